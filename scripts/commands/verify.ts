/**
 * `rlvr verify`: scores the completions of a JSONL file with one verifier and writes each row back
 * with `reward`, `reason` and the verifier's details. Streams line by line (never holds the file),
 * keeps output in input order, reports malformed lines with file:line and counts them; the
 * verifier's throws and timeouts are rewards of 0, counted in the summary, never a failed run.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import cliProgress from "cli-progress";
import type { CommandModule } from "yargs";
import type { Row } from "../../datasets/row.ts";
import {
  BUILTIN_VERIFIERS, checkedVerify, loadVerifier, percentile, VerifierLoadError,
  type CheckedResult, type LoadedVerifier, type Sample,
} from "../../verifiers/registry.ts";

interface VerifyArgs {
  verifier: string;
  input: string;
  output: string;
  "answer-field": string;
  "completion-field": string;
  concurrency: number;
  "timeout-ms": number;
  options?: string;
}

/** A user error: printed as one line, exit code 1, no stack. */
class VerifyCliError extends Error {}

/** The row as the verifier sees it, or what is wrong with the line. */
function parseLine(line: string, args: VerifyArgs): { raw: Record<string, unknown>; sample: Sample } | string {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return `malformed JSON (${(e as Error).message})`;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return "expected a JSON object";
  const fields = raw as Record<string, unknown>;
  const completion = fields[args["completion-field"]];
  if (typeof completion !== "string") return `missing string field "${args["completion-field"]}"`;
  const row: Row = { ...fields };
  if (args["answer-field"] !== "answer") row.answer = fields[args["answer-field"]] as string | undefined;
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const ctx = { completionTokens: num(fields.completion_tokens), maxCompletionTokens: num(fields.max_completion_tokens) };
  return { raw: fields, sample: { completion, row, ctx } };
}

/** Tallies for the summary. */
class Tally {
  rows = 0;
  malformed = 0;
  errors = 0;
  timeouts = 0;
  rewardSum = 0;
  judged = 0;
  firstError?: string;
  reasons = new Map<string, number>();
  timesMs: number[] = [];

  add(r: CheckedResult): void {
    this.rows++;
    this.timesMs.push(r.timeMs);
    if (r.reward !== null) [this.judged, this.rewardSum] = [this.judged + 1, this.rewardSum + r.reward];
    if (r.error) {
      this.errors++;
      if (r.reason === "timeout") this.timeouts++;
      else this.firstError ??= r.reason;
    }
    // error messages differ row to row: one bucket keeps the counts readable
    const key = r.error && r.reason !== "timeout" ? "error" : r.reason;
    this.reasons.set(key, (this.reasons.get(key) ?? 0) + 1);
  }

  summary(verifier: string, output: string, seconds: number): string {
    const ms = (x: number) => (Number.isNaN(x) ? "-" : `${x.toFixed(1)} ms`);
    const reasons = [...this.reasons].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
    return [
      `rlvr verify: scored ${this.rows} rows with ${verifier} in ${seconds.toFixed(1)} s; ${this.malformed} malformed lines skipped`,
      `  reward: mean ${this.judged ? (this.rewardSum / this.judged).toFixed(4) : "-"} over ${this.judged} judged rows (${this.rows - this.judged} null)`,
      `  reasons: ${reasons || "-"}`,
      `  errors: ${this.errors} (${this.timeouts} timeouts)${this.firstError ? `; first: ${this.firstError}` : ""}`,
      `  time per row: p50 ${ms(percentile(this.timesMs, 50))}, p99 ${ms(percentile(this.timesMs, 99))}`,
      `  output: ${output}`,
    ].join("\n");
  }
}

/** Progress on stderr: a bar on a terminal, a plain line every 1000 rows otherwise. */
function progress(totalBytes: number): { update(bytes: number, rows: number): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: "verify {bar} {percentage}% | {rows} rows | {duration}s | ETA {eta_formatted}", hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(totalBytes, 1), 0, { rows: 0 });
    return { update: (bytes, rows) => bar.update(bytes, { rows }), stop: () => bar.stop() };
  }
  let shown = 0;
  return {
    update: (_bytes, rows) => {
      if (rows - shown >= 1000) console.error(`rlvr verify: ${(shown = rows)} rows scored`);
    },
    stop: () => {},
  };
}

/** Scores the file; returns the exit code. */
async function runVerify(args: VerifyArgs): Promise<number> {
  const started = performance.now();
  if (!existsSync(args.input)) throw new VerifyCliError(`rlvr verify: input file not found: ${args.input}`);
  let options: unknown;
  try {
    options = args.options === undefined ? undefined : JSON.parse(args.options);
  } catch (e) {
    throw new VerifyCliError(`rlvr verify: --options is not valid JSON: ${(e as Error).message}`);
  }
  // a non-object --options is refused by VerifierSpec with the field named
  const spec = { name: args.verifier, timeout_ms: args["timeout-ms"], options: options as Record<string, unknown> | undefined };
  const concurrency = args.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new VerifyCliError(`rlvr verify: --concurrency must be a whole number ≥ 1, got ${concurrency}`);
  }
  let verifier: LoadedVerifier;
  try {
    verifier = await loadVerifier(spec, { workers: Math.min(concurrency, availableParallelism()) });
  } catch (e) {
    if (e instanceof VerifierLoadError) throw new VerifyCliError(`rlvr verify: ${e.message}`);
    throw e;
  }
  try {
    await mkdir(dirname(args.output), { recursive: true });
    const tally = await scoreFile(verifier, args, concurrency);
    console.log(tally.summary(verifier.verifier.name, args.output, (performance.now() - started) / 1000));
    return 0;
  } finally {
    await verifier.close();
  }
}

/** Streams the input through the verifier with at most `concurrency` rows in flight, in order. */
async function scoreFile(verifier: LoadedVerifier, args: VerifyArgs, concurrency: number): Promise<Tally> {
  const tally = new Tally();
  const out = createWriteStream(args.output);
  const lines = createInterface({ input: createReadStream(args.input), crlfDelay: Infinity });
  const bar = progress(statSync(args.input).size);
  const window: { raw: Record<string, unknown>; result: Promise<CheckedResult> }[] = [];
  let bytes = 0;
  const writeHead = async () => {
    const { raw, result } = window.shift()!;
    const checked = await result;
    tally.add(checked);
    const { reward, reason, timeMs, ...details } = checked;
    if (!out.write(`${JSON.stringify({ ...raw, reward, reason, verify: { ...details, time_ms: timeMs } })}\n`)) await once(out, "drain");
    bar.update(bytes, tally.rows);
  };
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    bytes += Buffer.byteLength(line) + 1;
    if (line.trim() === "") continue; // a blank line is not a row
    const parsed = parseLine(line, args);
    if (typeof parsed === "string") {
      tally.malformed++;
      console.error(`${args.input}:${lineNo}: ${parsed}; line skipped`);
      continue;
    }
    window.push({ raw: parsed.raw, result: checkedVerify(verifier, parsed.sample) });
    while (window.length >= concurrency) await writeHead();
  }
  while (window.length > 0) await writeHead();
  bar.stop();
  out.end();
  await once(out, "finish");
  return tally;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: "verify",
  describe: "Score completions in a JSONL file with a verifier",
  builder: (y) =>
    y.options({
      verifier: { type: "string", demandOption: true, describe: `${BUILTIN_VERIFIERS.join(" | ")} | a module path (./my_reward.ts)` },
      input: { type: "string", demandOption: true, describe: "JSONL file: one JSON object per line with the completion and the row's fields" },
      output: { type: "string", demandOption: true, describe: "JSONL file to write: each input row plus reward, reason and verify (details, time_ms)" },
      "answer-field": { type: "string", default: "answer", describe: "Field holding the gold answer (given to the verifier as row.answer)" },
      "completion-field": { type: "string", default: "completion", describe: "Field holding the completion text to score" },
      concurrency: { type: "number", default: 8, describe: "Rows verified at once (and worker threads for a module, up to the cores)" },
      "timeout-ms": { type: "number", default: 10_000, describe: "Time limit per row; past it the row gets reward 0, reason timeout" },
      options: { type: "string", describe: "Built-in verifier options as JSON, e.g. '{\"tags\":[\"think\"]}' for format" },
    }),
  handler: async (args) => {
    try {
      process.exitCode = await runVerify(args);
    } catch (e) {
      if (!(e instanceof VerifyCliError)) throw e;
      console.error(e.message);
      process.exitCode = 1;
    }
  },
};
