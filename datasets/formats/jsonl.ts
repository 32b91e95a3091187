/**
 * JSON Lines (`.jsonl`, `.json` with one object per line, optionally gzipped): read line by line
 * from a stream, so memory holds one line at a time whatever the file's size. Blank lines are not
 * rows and are passed over; a line that is not a JSON object comes back as a bad row with its line.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { DatasetError } from "../dataset-error.ts";
import { kindOf, type RawRow } from "./plain.ts";

const SNIPPET_CHARS = 60;

/** The rows of a JSON Lines file, in order; `.gz` files are gunzipped on the fly. */
export async function* readJsonl(file: string): AsyncGenerator<RawRow> {
  const stream = createReadStream(file);
  const source = file.endsWith(".gz") ? stream.pipe(createGunzip()) : stream;
  const lines = createInterface({ input: source, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line += 1;
      if (text.trim() === "") continue;
      // a byte-order mark (Windows editors) is not part of the first object
      yield parseLine(line === 1 ? text.replace(/^\uFEFF/, "") : text, line);
    }
  } catch (cause) {
    throw gzipError(file, cause) ?? cause;
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** zlib's own errors name neither the file nor the likely mistake (a plain file named .gz). */
function gzipError(file: string, cause: unknown): DatasetError | undefined {
  const { code, message } = cause as NodeJS.ErrnoException;
  if (typeof code !== "string" || !code.startsWith("Z_")) return undefined;
  const problem = message === "incorrect header check"
    ? `not a gzip file (${message}); rename it to ${file.replace(/\.gz$/, "")} if it is plain JSON lines`
    : `the gzip data is damaged or cut short (${message})`;
  return new DatasetError(file, {}, undefined, problem, { cause });
}

function parseLine(text: string, line: number): RawRow {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    // V8's wording differs between Node versions: the line's start says more, the cause keeps V8's
    const hint = line === 1 && text.trimStart().startsWith("[") ? arrayHint : "";
    return { at: { line }, problem: `not valid JSON: ${snippet(text)}${hint}`, cause };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const hint = line === 1 && Array.isArray(value) ? arrayHint : "";
    return { at: { line }, problem: `expected a JSON object, found ${kindOf(value)}${hint}` };
  }
  return { at: { line }, record: value as Record<string, unknown> };
}

const arrayHint = "; this looks like one JSON array, not JSON lines: convert it with jq -c '.[]' in.json > out.jsonl";

function snippet(text: string): string {
  return text.length <= SNIPPET_CHARS ? text : `${text.slice(0, SNIPPET_CHARS)}…`;
}
