/**
 * Reads a run directory (runs/<name>/, written by `rlvr train` or `rlvr pretrain`) into the plain
 * data a report shows: the metric rows, a bounded sample of completions, and `rlvr eval` summaries.
 * Anything optional that is missing or unreadable becomes a note in the report instead of an error,
 * so a half-written or killed run still gets a report; only a missing directory or metrics log fails.
 */
import fs from "node:fs";
import path from "node:path";
import { tableFromIPC } from "apache-arrow";
import { z } from "zod";

/** A user error (bad path, no metrics): the CLI prints the message and exits 1. */
export class RunDataError extends Error {}

/** One metrics.jsonl line: numeric values only (JSON writes NaN as null; those count as missing). */
export type MetricRow = { step: number } & Record<string, number>;

export interface CompletionRow {
  step: number;
  prompt: string;
  completion: string;
  /** Each verifier's reward, keyed by verifier name (null = could not judge). */
  rewards: Record<string, number | null>;
  reward: number | null;
  advantage: number | null;
  truncated: boolean | null;
}

const Stats = z.object({
  n: z.number(),
  "pass@1": z.number(),
  "pass@1_ci95": z.tuple([z.number(), z.number()]),
  "pass@k": z.record(z.string(), z.number()),
  "maj@k": z.number(),
  mean_tokens: z.number(),
  truncation_rate: z.number(),
});
export type EvalStats = z.infer<typeof Stats>;

/** The file `rlvr eval` writes as runs/<name>/eval/<something>.summary.json. */
export const EvalSummary = z.object({
  dataset: z.string(),
  model: z.string(),
  k: z.number(),
  temperature: z.number(),
  overall: Stats,
  by_subject: z.record(z.string(), Stats).default({}),
  by_level: z.record(z.string(), Stats).default({}),
});
export type EvalSummary = z.infer<typeof EvalSummary>;

export interface RunData {
  /** The run directory's base name. */
  name: string;
  dir: string;
  /** Sorted by step, one row per step. */
  metrics: MetricRow[];
  /** Verifier names seen in the completions tables, in column order. */
  verifiers: string[];
  completions: CompletionRow[];
  evals: { file: string; summary: EvalSummary }[];
  /** Things skipped while reading, for the reader of the report. */
  notes: string[];
}

export interface ReadOptions {
  /** Completions from the newest this-many tables. */
  completionSteps?: number;
  /** At most this many completions from each table (the first rows: whole groups of one prompt). */
  completionsPerStep?: number;
}

export function readRun(dir: string, options: ReadOptions = {}): RunData {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new RunDataError(`${dir}: no such run directory`);
  const metricsFile = path.join(dir, "metrics.jsonl");
  if (!fs.existsSync(metricsFile)) throw new RunDataError(`${metricsFile}: not found (is ${dir} a run directory made by rlvr train or rlvr pretrain?)`);
  const notes: string[] = [];
  const metrics = readMetrics(metricsFile, notes);
  const { verifiers, rows } = readCompletions(path.join(dir, "completions"), options, notes);
  return { name: path.basename(path.resolve(dir)), dir, metrics, verifiers, completions: rows, evals: readEvalSummaries(path.join(dir, "eval"), notes), notes };
}

/** Parses metrics.jsonl; a bad line (e.g. half-written by a killed run) is skipped with a note. */
export function readMetrics(file: string, notes: string[]): MetricRow[] {
  const byStep = new Map<number, MetricRow>();
  fs.readFileSync(file, "utf8").split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const row = parseMetricLine(line);
    if (!row) notes.push(`${path.basename(file)}:${i + 1}: not a JSON object with a numeric step; skipped`);
    // a later line for the same step wins, as a resumed run's would
    else byStep.set(row.step, row);
  });
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

function parseMetricLine(line: string): MetricRow | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return null;
  const row: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === "number" && Number.isFinite(v)) row[k] = v;
  return typeof row.step === "number" ? (row as MetricRow) : null;
}

/** The newest `completionSteps` Arrow tables under completions/, `completionsPerStep` rows each. */
function readCompletions(dir: string, options: ReadOptions, notes: string[]): { verifiers: string[]; rows: CompletionRow[] } {
  if (!fs.existsSync(dir)) return { verifiers: [], rows: [] };
  const files = fs.readdirSync(dir).filter((f) => /^step-\d+\.arrow$/.test(f)).sort();
  const verifiers = new Set<string>();
  const rows: CompletionRow[] = [];
  for (const f of files.slice(-(options.completionSteps ?? 3))) {
    try {
      const table = readCompletionTable(path.join(dir, f));
      table.verifiers.forEach((v) => verifiers.add(v));
      rows.push(...table.rows.slice(0, options.completionsPerStep ?? 8));
    } catch (e) {
      notes.push(`completions/${f}: unreadable (${(e as Error).message}); skipped`);
    }
  }
  return { verifiers: [...verifiers], rows };
}

export function readCompletionTable(file: string): { verifiers: string[]; rows: CompletionRow[] } {
  const table = tableFromIPC(fs.readFileSync(file));
  const names = table.schema.fields.map((f) => f.name);
  if (!names.includes("completion")) throw new Error("no completion column");
  const verifiers = names.filter((n) => n.startsWith("rewards/")).map((n) => n.slice("rewards/".length));
  const rows = table.toArray().map((r): CompletionRow => {
    const o = r.toJSON() as Record<string, unknown>;
    return {
      step: num(o.step) ?? NaN,
      prompt: String(o.prompt ?? ""),
      completion: String(o.completion ?? ""),
      rewards: Object.fromEntries(verifiers.map((v) => [v, num(o[`rewards/${v}`])])),
      reward: num(o.reward),
      advantage: num(o.advantage),
      truncated: typeof o.truncated === "boolean" ? o.truncated : null,
    };
  });
  return { verifiers, rows };
}

/** Arrow hands Int32/Float64 cells back as numbers (and Int64 as bigint); nulls stay null. */
function num(v: unknown): number | null {
  if (typeof v === "bigint") return Number(v);
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function readEvalSummaries(dir: string, notes: string[]): { file: string; summary: EvalSummary }[] {
  if (!fs.existsSync(dir)) return [];
  const out: { file: string; summary: EvalSummary }[] = [];
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".summary.json")).sort()) {
    try {
      const parsed = EvalSummary.safeParse(JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
      if (parsed.success) out.push({ file: `eval/${f}`, summary: parsed.data });
      else notes.push(`eval/${f}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}; skipped`);
    } catch (e) {
      notes.push(`eval/${f}: ${(e as Error).message}; skipped`);
    }
  }
  return out;
}
