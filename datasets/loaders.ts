/**
 * Dataset files → rows: JSONL, Parquet and Arrow IPC, streamed (a line, a row group or a record
 * batch in memory at a time), with a column mapping so Hugging Face exports load as they are.
 * Rows keep every original field; the mapping adds `problem`, `answer` and any `fields` renames
 * under our names. Bad rows throw a DatasetError naming the place, or are skipped and counted.
 * Not here: splitting, shuffling, batching, prompt templates.
 */
import { access } from "node:fs/promises";
import { extname } from "node:path";
import { z } from "zod";
import { DatasetError, type RowPlace } from "./dataset-error.ts";
import { openArrow } from "./formats/arrow.ts";
import { readJsonl } from "./formats/jsonl.ts";
import type { OpenedFile } from "./formats/opened-file.ts";
import { openParquet } from "./formats/parquet.ts";
import { kindOf } from "./formats/plain.ts";
import type { Row } from "./row.ts";

export { DatasetError } from "./dataset-error.ts";

export const DatasetFormat = z.enum(["jsonl", "parquet", "arrow"]);
export type DatasetFormat = z.infer<typeof DatasetFormat>;

export const DatasetFileConfig = z.strictObject({
  path: z.string().min(1).describe("The dataset file: .jsonl/.json (JSON lines, optionally .gz), .parquet, or .arrow/.feather/.ipc (Arrow IPC)."),
  format: DatasetFormat.optional().describe("The file's format; unset means chosen by the extension of path."),
  problem_field: z.string().min(1).default("problem").describe("The column holding the problem text, copied to the row's `problem`; every row needs a non-empty string there."),
  answer_field: z.string().min(1).nullable().default("answer")
    .describe("The column holding the reference answer, copied to the row's `answer` (numbers become strings); null for datasets without one, such as code with tests."),
  fields: z.record(z.string(), z.string()).default({})
    .describe("More renames, our name → the file's column (e.g. {solution: reasoning}); each named column must be present in every row."),
  skip_bad_rows: z.boolean().default(false)
    .describe("Skip rows that are malformed or lack a mapped field, counting them and warning with the count, instead of stopping at the first."),
  limit: z.int().positive().optional().describe("Read at most this many good rows from the start of the file; unset reads them all."),
});
export type DatasetFileConfig = z.infer<typeof DatasetFileConfig>;

/** Where a skipped-rows warning goes; defaults to process.emitWarning with type "DatasetWarning". */
export interface ReadOptions {
  onWarning?: (message: string) => void;
}

/** What a finished read saw: good rows yielded and bad rows skipped. */
export interface ReadSummary {
  rows: number;
  skipped: number;
}

const extensions: Record<string, DatasetFormat> = {
  ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
  ".parquet": "parquet", ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
};

/** The format named in the config, or the one the path's extension (before any `.gz`) implies. */
export function formatOf(config: Pick<DatasetFileConfig, "path" | "format">): DatasetFormat {
  if (config.format) return config.format;
  const ext = extname(config.path.replace(/\.gz$/, "")).toLowerCase();
  const format = extensions[ext];
  if (format) return format;
  const problem = `cannot tell the format from the extension "${ext}"; use one of ${Object.keys(extensions).join(", ")} or set format: ${DatasetFormat.options.join(" | ")}`;
  throw new DatasetError(config.path, {}, undefined, problem);
}

/**
 * The rows of one dataset file, in file order, read lazily. Returns the summary when exhausted;
 * a consumer that stops early still gets the skipped-rows warning for what was read.
 */
export async function* readRows(input: z.input<typeof DatasetFileConfig>, options: ReadOptions = {}): AsyncGenerator<Row, ReadSummary> {
  const config = DatasetFileConfig.parse(input);
  const mapping = mappingOf(config);
  const opened = await openFile(config.path, formatOf(config));
  const summary: ReadSummary = { rows: 0, skipped: 0 };
  let firstSkipped: DatasetError | undefined;
  let failed = false;
  try {
    if (opened.columns) checkColumns(config.path, opened.columns, mapping);
    for await (const raw of opened.rows) {
      const row = "record" in raw ? mapRow(config.path, raw.at, raw.record, mapping) : new DatasetError(config.path, raw.at, undefined, raw.problem, { cause: raw.cause });
      if (row instanceof DatasetError) {
        if (!config.skip_bad_rows) throw withSkipHint(row);
        summary.skipped += 1;
        firstSkipped ??= row;
        continue;
      }
      yield row;
      summary.rows += 1;
      if (summary.rows === config.limit) break;
    }
    if (summary.rows === 0 && firstSkipped) {
      throw new DatasetError(config.path, {}, undefined, `every row was bad (${summary.skipped} skipped); the first: ${firstSkipped.message}`, { cause: firstSkipped });
    }
    return summary;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await opened.rows.return(undefined);
    await opened.close();
    if (!failed && summary.skipped > 0) warn(options, skippedMessage(config.path, summary, firstSkipped));
  }
}

/** Every row of one dataset file in memory, and how many bad rows were skipped. */
export async function loadRows(input: z.input<typeof DatasetFileConfig>, options: ReadOptions = {}): Promise<{ rows: Row[]; skipped: number }> {
  const rows: Row[] = [];
  const reader = readRows(input, options);
  let next = await reader.next();
  while (!next.done) {
    rows.push(next.value);
    next = await reader.next();
  }
  return { rows, skipped: next.value.skipped };
}

/** One mapped field: our name, the file's column, and the config key that names it. */
interface FieldMap {
  ours: string;
  column: string;
  key: string;
}

function mappingOf(config: DatasetFileConfig): FieldMap[] {
  const mapping: FieldMap[] = [{ ours: "problem", column: config.problem_field, key: "problem_field" }];
  if (config.answer_field !== null) mapping.push({ ours: "answer", column: config.answer_field, key: "answer_field" });
  for (const [ours, column] of Object.entries(config.fields)) mapping.push({ ours, column, key: `fields.${ours}` });
  return mapping;
}

async function openFile(file: string, format: DatasetFormat): Promise<OpenedFile> {
  try {
    await access(file);
  } catch (cause) {
    throw new DatasetError(file, {}, undefined, `cannot open (${(cause as NodeJS.ErrnoException).code}); paths are relative to ${process.cwd()}`, { cause });
  }
  if (format === "parquet") return openParquet(file);
  if (format === "arrow") return openArrow(file);
  // the stream opens when the first row is asked for and closes with the generator
  return { rows: readJsonl(file), close: async () => {} };
}

/** Parquet and Arrow declare their columns: a mapped column missing there is missing in every row. */
function checkColumns(file: string, columns: string[], mapping: FieldMap[]): void {
  for (const { ours, column, key } of mapping) {
    if (!columns.includes(column)) {
      throw new DatasetError(file, {}, column, `no such column; the columns are ${listNames(columns)}; set ${key} to the column that holds the ${ours}`);
    }
  }
}

/** The record with the mapped fields added under our names, or why it cannot be a row. */
function mapRow(file: string, at: RowPlace, record: Record<string, unknown>, mapping: FieldMap[]): Row | DatasetError {
  const row: Row = { ...record };
  for (const { ours, column, key } of mapping) {
    if (!(column in record)) {
      return new DatasetError(file, at, column, `missing; the row has ${listNames(Object.keys(record))}; set ${key} to the field that holds the ${ours}`);
    }
    const value = ours === "problem" ? problemOf(record[column]) : ours === "answer" ? answerOf(record[column]) : { value: record[column] };
    if ("problem" in value) return new DatasetError(file, at, column, value.problem);
    row[ours] = value.value;
  }
  return row;
}

function problemOf(value: unknown): { value: string } | { problem: string } {
  if (typeof value !== "string") return { problem: `expected the problem as a string, found ${kindOf(value)}` };
  if (value.trim() === "") return { problem: "empty, but every row needs a problem" };
  return { value };
}

/** Answers are strings; numeric columns (GSM8K-style integer answers) become their decimal text. */
function answerOf(value: unknown): { value: string } | { problem: string } {
  if (typeof value === "string") return { value };
  if (typeof value === "number" && Number.isFinite(value)) return { value: String(value) };
  return { problem: `expected the answer as a string or number, found ${kindOf(value)}` };
}

function listNames(names: string[]): string {
  if (names.length === 0) return "no fields";
  const shown = names.slice(0, 12).join(", ");
  return names.length > 12 ? `${shown}, … (${names.length} in all)` : shown;
}

function withSkipHint(error: DatasetError): DatasetError {
  const at: RowPlace = { line: error.line, row: error.row, rowGroup: error.rowGroup, batch: error.batch };
  return new DatasetError(error.file, at, error.field, `${error.problem} (or set skip_bad_rows: true to skip and count bad rows)`, { cause: error.cause });
}

function skippedMessage(file: string, summary: ReadSummary, first: DatasetError | undefined): string {
  const seen = summary.rows + summary.skipped;
  return `${file}: skipped ${summary.skipped} bad row${summary.skipped === 1 ? "" : "s"} of ${seen} read (skip_bad_rows: true); the first: ${first?.message}`;
}

function warn(options: ReadOptions, message: string): void {
  if (options.onWarning) options.onWarning(message);
  else process.emitWarning(message, "DatasetWarning");
}
