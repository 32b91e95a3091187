/**
 * Run outputs a person inspects: the per-step completions table as an Arrow IPC file
 * (`completions/step-000010.arrow`) that pyarrow, polars or DuckDB open directly.
 */
import fs from "node:fs";
import path from "node:path";
import { Bool, Float64, Int32, tableToIPC, Utf8, vectorFromArray, Table, type Vector } from "apache-arrow";
import type { GrpoRun } from "./grpo-trainer.ts";
import type { Rollouts } from "./rollout.ts";

export interface CompletionRecord {
  step: number;
  prompt: string;
  completion: string;
  /** Each verifier's reward (null = could not judge). */
  rewards: Record<string, number | null>;
  reward: number;
  advantage: number;
  truncated: boolean;
}

/** Writes the records as one Arrow IPC file (atomically: a temporary file renamed into place). */
export function writeCompletionsTable(file: string, records: CompletionRecord[], verifierNames: string[]): void {
  const columns: Record<string, Vector> = {
    step: vectorFromArray(records.map((r) => r.step), new Int32()),
    prompt: vectorFromArray(records.map((r) => r.prompt), new Utf8()),
    completion: vectorFromArray(records.map((r) => r.completion), new Utf8()),
  };
  for (const name of verifierNames) columns[`rewards/${name}`] = vectorFromArray(records.map((r) => r.rewards[name] ?? null), new Float64());
  columns.reward = vectorFromArray(records.map((r) => r.reward), new Float64());
  columns.advantage = vectorFromArray(records.map((r) => r.advantage), new Float64());
  columns.truncated = vectorFromArray(records.map((r) => r.truncated), new Bool());
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, tableToIPC(new Table(columns), "file"));
  fs.renameSync(tmp, file);
}

/** The step's trained batch as runs/<name>/completions/step-000010.arrow. */
export function writeCompletions(run: Pick<GrpoRun, "verifiers" | "completionsDir">, kept: Rollouts, advantages: Float32Array, step: number): void {
  const names = run.verifiers.map((v) => v.verifier.name);
  const records = kept.completions.map((c, i) => ({
    step,
    prompt: kept.prompts[c.group],
    completion: c.text,
    rewards: Object.fromEntries(names.map((n) => [n, kept.rewards[n]?.[i] ?? null])),
    reward: kept.total[i],
    advantage: advantages[i],
    truncated: c.truncated,
  }));
  writeCompletionsTable(path.join(run.completionsDir!, `step-${String(step).padStart(6, "0")}.arrow`), records, names);
}
