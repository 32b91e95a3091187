/**
 * Name → verifier, and scoring many completions with several weighted verifiers. Resolves the
 * built-ins (math, code, format, overlong, countdown) and user modules (./my_reward.ts), the latter
 * run in worker threads. Every call is guarded: a throw, a rejection, a malformed result or a timeout
 * becomes `{ reward: 0, reason, error: true }`, counted in `verify/errors`, never a crashed run.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import type { Row } from "../datasets/row.ts";
import type { CodeVerifierOptions } from "./code/index.ts";
import { countdownVerifier } from "./countdown.ts";
import { formatVerifier } from "./format.ts";
import { overlongVerifier } from "./length.ts";
import type { Verifier, VerifyContext, VerifyResult } from "./types.ts";
import { VerifierLoadError, VerifierTimeoutError, WorkerVerifier } from "./worker-pool.ts";

export { VerifierLoadError } from "./worker-pool.ts";

export const VerifierSpec = z.strictObject({
  name: z.string().min(1)
    .describe("A built-in verifier (math, code, format, overlong, countdown) or a path to a module: ./my_reward.ts, .js or .mjs."),
  weight: z.number().default(1)
    .describe("w_k in the total reward r_i = sum_k w_k * r_ik; a verifier returning null is skipped."),
  timeout_ms: z.int().positive().default(10_000)
    .describe("Time limit of one verify call in milliseconds; past it the sample gets reward 0, reason `timeout`."),
  options: z.record(z.string(), z.unknown()).optional()
    .describe("Options for this verifier; verifiers/README.md lists each built-in's."),
});
export type VerifierSpec = z.infer<typeof VerifierSpec>;

/** A verifier with its weight and time limit, as scoreCompletions takes them. */
export interface WeightedVerifier {
  verifier: Verifier;
  weight: number;
  /** Time limit of one call, in milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** A loaded verifier; `close()` stops its workers (user modules) and is a no-op for built-ins. */
export interface LoadedVerifier extends WeightedVerifier {
  timeoutMs: number;
  close(): Promise<void>;
}

export const BUILTIN_VERIFIERS = ["math", "code", "format", "overlong", "countdown"] as const;

type Factory = (options: unknown) => Verifier | Promise<Verifier>;

// imported on first use, so a run without code never loads the sandbox (format.ts already loads math)
const builtins: Record<(typeof BUILTIN_VERIFIERS)[number], Factory> = {
  math: async (options) => (await import("./math/index.ts")).makeMathVerifier(options),
  code: async (options) => {
    const code = await import("./code/index.ts"); // makeCodeVerifier validates its options itself
    return Object.keys(options as object).length > 0 ? code.makeCodeVerifier(options as CodeVerifierOptions) : code.codeVerifier;
  },
  format: formatVerifier,
  overlong: overlongVerifier,
  countdown: countdownVerifier,
};

/** A zod error as `path: message; path: message`. */
const issues = (e: z.ZodError, prefix = "") =>
  e.issues.map((i) => `${prefix}${i.path.join(".")}: ${i.message}`).join("; ");

const isPath = (name: string) => /^\.{0,2}\//.test(name) || /\.(ts|mts|js|mjs)$/.test(name);

export interface LoadOptions {
  /** Directory relative module paths are resolved from (a recipe's folder); default the working directory. */
  baseDir?: string;
  /** Worker threads per user module (default 2). */
  workers?: number;
  /** Time allowed to import a user module, in milliseconds (default 30 000: tsx compiles it first). */
  loadTimeoutMs?: number;
  /** V8 heap cap per user-module worker, in MiB (default 512). */
  heapMb?: number;
}

/** Resolves one spec (or a bare name) to a verifier with its weight and time limit; throws VerifierLoadError. */
export async function loadVerifier(spec: z.input<typeof VerifierSpec> | string, options: LoadOptions = {}): Promise<LoadedVerifier> {
  const parsed = VerifierSpec.safeParse(typeof spec === "string" ? { name: spec } : spec);
  if (!parsed.success) throw new VerifierLoadError("verifier spec", issues(parsed.error));
  const { name, weight, timeout_ms: timeoutMs, options: verifierOptions = {} } = parsed.data;
  const noop = async () => {};
  if (Object.hasOwn(builtins, name)) {
    let verifier: Verifier;
    try {
      verifier = await builtins[name as keyof typeof builtins](verifierOptions);
    } catch (e) {
      const problem = e instanceof z.ZodError ? issues(e, "options.") : (e as Error).message;
      throw new VerifierLoadError(`verifier "${name}"`, problem);
    }
    return { verifier, weight, timeoutMs, close: noop };
  }
  if (!isPath(name)) {
    throw new VerifierLoadError(`verifier "${name}"`,
      `unknown name; expected one of ${BUILTIN_VERIFIERS.join(", ")}, or a path to a module such as ./my_reward.ts`);
  }
  const file = resolve(options.baseDir ?? process.cwd(), name);
  if (!existsSync(file)) throw new VerifierLoadError(name, `no such file (looked for ${file})`);
  if (Object.keys(verifierOptions).length > 0) {
    throw new VerifierLoadError(name, "options are for built-in verifiers; a module reads its own settings");
  }
  const verifier = await WorkerVerifier.load(file, { workers: options.workers ?? 2, loadTimeoutMs: options.loadTimeoutMs ?? 30_000, heapMb: options.heapMb });
  return { verifier, weight, timeoutMs, close: () => verifier.close() };
}

/** Loads a recipe's `verifiers:` list in order; if one fails, those already loaded are closed first. */
export async function loadVerifiers(specs: (z.input<typeof VerifierSpec> | string)[], options: LoadOptions = {}): Promise<LoadedVerifier[]> {
  const loaded: LoadedVerifier[] = [];
  try {
    for (const spec of specs) loaded.push(await loadVerifier(spec, options));
    return loaded;
  } catch (e) {
    await Promise.all(loaded.map((v) => v.close()));
    throw e;
  }
}

/** One sample to score: the completion text, its row, and what the sampler knows about it. */
export interface Sample {
  completion: string;
  row: Row;
  ctx?: Pick<VerifyContext, "completionTokens" | "maxCompletionTokens">;
}

/** A guarded verifier result: what the verifier said (or the error), and how long the call took. */
export interface CheckedResult extends VerifyResult {
  timeMs: number;
  error?: true;
}

const failed = (reason: string, timeMs: number): CheckedResult => ({ reward: 0, reason, error: true, timeMs });

/** Checks a verifier's answer against the contract; a string says what is wrong. */
function contractProblem(r: unknown): string | undefined {
  if (r === null || typeof r !== "object") return `verifier returned ${r === null ? "null" : typeof r}; expected { reward, reason }`;
  const { reward, reason } = r as Record<string, unknown>;
  if (reward !== null && !(typeof reward === "number" && Number.isFinite(reward))) {
    return `reward must be a finite number or null, got ${typeof reward === "number" ? reward : typeof reward}`;
  }
  if (typeof reason !== "string") return `reason must be a string, got ${typeof reason}`;
  return undefined;
}

/** Runs one verify call under its time limit; never throws: failures come back as reward 0 with error: true. */
export async function checkedVerify(v: WeightedVerifier, sample: Sample): Promise<CheckedResult> {
  const timeoutMs = v.timeoutMs ?? 10_000;
  const controller = new AbortController();
  const ctx: VerifyContext = { ...sample.ctx, timeoutMs, signal: controller.signal };
  const start = performance.now();
  const elapsed = () => performance.now() - start;
  let timer: NodeJS.Timeout | undefined;
  try {
    let call: Promise<{ result: unknown; timeMs?: number }>;
    if (v.verifier instanceof WorkerVerifier) {
      // times itself from dispatch, so waiting for a free worker is charged neither to the limit nor to timeMs
      call = v.verifier.verifyTimed(sample.completion, sample.row, ctx);
    } else {
      call = Promise.resolve().then(() => v.verifier.verify(sample.completion, sample.row, ctx)).then((result) => ({ result }));
      call = Promise.race([call, new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new VerifierTimeoutError(timeoutMs)), timeoutMs);
      })]);
    }
    const { result, timeMs = elapsed() } = await call;
    const problem = contractProblem(result);
    return problem ? failed(`error: ${problem}`, timeMs) : { ...(result as VerifyResult), timeMs };
  } catch (e) {
    if (e instanceof VerifierTimeoutError) return failed("timeout", e.timeoutMs);
    return failed(`error: ${e instanceof Error ? e.message : String(e)}`, elapsed());
  } finally {
    clearTimeout(timer);
    controller.abort(); // tells a verifier still running in the background to stop
  }
}

/** What scoreCompletions returns; arrays are indexed like the samples ([N]). */
export interface Scores {
  /** r_i = Σ_k w_k · r_ik over the verifiers whose reward is not null; 0 where allNull. */
  total: Float32Array;
  /** True where every verifier returned null: the trainer gives that completion advantage 0. */
  allNull: boolean[];
  rewards: Record<string, (number | null)[]>;
  reasons: Record<string, string[]>;
  results: Record<string, CheckedResult[]>;
  /** rewards/<name>/mean|std, reward, reward_std, verify/errors, verify/nulls, verify/time_ms_p50|p99. */
  metrics: Record<string, number>;
}

/** Runs `count` tasks with at most `concurrency` in flight; results keep their index. */
async function mapBounded<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return out;
}

/** Mean of `xs`; NaN when empty. */
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Bessel-corrected standard deviation (as TRL logs it); NaN for fewer than two values. */
function std(xs: number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Nearest-rank percentile (p in [0, 100]): the smallest value with at least p% of values at or below it. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Scores every sample with every verifier (at most `concurrency` calls at once) and combines the rewards. */
export async function scoreCompletions(
  verifiers: WeightedVerifier[], samples: Sample[], options: { concurrency?: number } = {},
): Promise<Scores> {
  const names = verifiers.map((v) => v.verifier.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`two verifiers are named "${dup}"; names key the metrics rewards/<name>/…, so they must differ`);
  const K = verifiers.length;
  const flat = await mapBounded(samples.length * K, options.concurrency ?? 8, (j) =>
    checkedVerify(verifiers[j % K], samples[Math.floor(j / K)]));
  const results = Object.fromEntries(names.map((n, k) => [n, samples.map((_, i) => flat[i * K + k])]));
  const rewards = Object.fromEntries(names.map((n) => [n, results[n].map((r) => r.reward)]));
  const reasons = Object.fromEntries(names.map((n) => [n, results[n].map((r) => r.reason)]));
  const sums = samples.map(() => 0); // summed in float64; stored as float32 for the trainer
  const allNull = samples.map((_, i) => {
    let none = true;
    verifiers.forEach((v, k) => {
      const r = flat[i * K + k].reward;
      if (r !== null) [none, sums[i]] = [false, sums[i] + v.weight * r];
    });
    return none;
  });
  const metrics: Record<string, number> = {};
  for (const n of names) {
    const judged = rewards[n].filter((r): r is number => r !== null);
    metrics[`rewards/${n}/mean`] = mean(judged);
    metrics[`rewards/${n}/std`] = std(judged);
  }
  const totals = sums.filter((_, i) => !allNull[i]);
  metrics.reward = mean(totals);
  metrics.reward_std = std(totals);
  metrics["verify/errors"] = flat.filter((r) => r.error).length;
  metrics["verify/nulls"] = flat.filter((r) => r.reward === null).length;
  metrics["verify/time_ms_p50"] = percentile(flat.map((r) => r.timeMs), 50);
  metrics["verify/time_ms_p99"] = percentile(flat.map((r) => r.timeMs), 99);
  return { total: Float32Array.from(sums), allNull, rewards, reasons, results, metrics };
}

/** The name the trainer's step sketch uses (STYLE.md §1): the same function. */
export const scoreAll = scoreCompletions;
