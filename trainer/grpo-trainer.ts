/**
 * The GRPO loop: take a batch of prompts → sample G completions each → score them with the
 * recipe's verifiers → group-relative advantages → num_iterations optimizer updates → log →
 * checkpoint. Seeds derive from (seed, step, prompt, sample), and the data cursor and step are
 * saved with the weights and optimizer moments, so a resumed run replays the same batches.
 * DAPO dynamic sampling drops groups whose rewards all equal and samples more prompts, up to
 * max_generation_rounds; the frozen reference model is loaded only when beta > 0; eval/accuracy is
 * pass@1 over held-out rows every eval_every steps.
 */
import path from "node:path";
import { z } from "zod";
import type { Row } from "../datasets/row.ts";
import type { WeightedVerifier } from "../verifiers/registry.ts";
import { dynamicSamplingFilter, groupAdvantages } from "./advantages.ts";
import { GrpoConfig } from "./grpo.ts";
import { loadCheckpoint } from "./model/checkpoint.ts";
import type { Tokenizer } from "./model/tokenizer.ts";
import type { Transformer } from "./model/transformer.ts";
import { OptimizerConfig, type AdamW } from "./optimizer.ts";
import { deriveSeed } from "../datasets/rng.ts";
import { writeCompletions } from "./completions-table.ts";
import { appendGroups, rollout, roundMetrics, stepRecord, type Rollouts } from "./rollout.ts";
import { SamplerConfig } from "./sampler.ts";
import { RcTrainConfig } from "./reasoning-cache.ts";
import { updatePolicy } from "./update.ts";
import type { RunDir } from "./run-dir.ts";
import { disposingAfter, runLoop, RunGuardConfig, startRun, type LoopHooks, type RunIo, type RunStart } from "./run-loop.ts";
import { DataCursor, DataOrder } from "./data-order.ts";
import { evaluateAccuracy, HeldOutEvalConfig } from "./eval/held-out.ts";
import { ParallelConfig, rankCount, WorkerPool } from "./parallel/workers.ts";
import { shardedGroupSampler, updatePolicySharded } from "./parallel/data-parallel.ts";

export const GrpoTrainConfig = z.strictObject({
  steps: z.int().min(1).default(100).describe("GRPO steps (one generation round and num_iterations updates each)."),
  prompts_per_step: z.int().min(1).default(8).describe("Prompts per step; the batch holds prompts_per_step × num_generations completions."),
  micro_batch_size: z.int().min(0).default(32)
    .describe("Completions per forward/backward pass: the step's micro-batches add their gradients before its one optimizer update (peak memory is one micro-batch's: on wasm a backward pass of 64 completions of ~116 tokens with the reference config peaks near 2.3 GB of the backend's 4 GB heap); 0 = the whole step at once."),
  log_every: z.int().min(1).default(1).describe("Steps between progress lines."),
  save_every: z.int().min(0).default(50).describe("Steps between checkpoints; 0 = only at the end."),
  keep_last: z.int().min(1).default(3).describe("Checkpoints kept under runs/<name>/checkpoints."),
  dynamic_sampling: z.boolean().default(false)
    .describe("DAPO: drop groups whose rewards are all equal (no signal) and sample more prompts until prompts_per_step groups remain."),
  max_generation_rounds: z.int().min(1).default(3).describe("Bound on sampling rounds per step with dynamic_sampling; a short batch trains on what it has."),
  eval_every: z.int().min(0).default(0).describe("Steps between held-out evaluations (eval/accuracy = pass@1 over data.eval); 0 = never."),
  completions_every: z.int().min(0).default(1).describe("Write the completions table (Arrow IPC) every N steps; 0 = never."),
  ...RunGuardConfig,
  ...ParallelConfig,
});
export type GrpoTrainConfig = z.infer<typeof GrpoTrainConfig>;

/**
 * A GRPO (or RC-RL) run's settings: the recipe without its data and verifier sections, which the
 * command resolves into rows and verifiers. Passed through as validated; derived settings come
 * from groupSampler and groupLoss, never copied field by field.
 */
export const GrpoRunConfig = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/).describe("Run name: outputs go to <output_dir>/<name>/."),
  seed: z.int().default(0).describe("Fixes data order and sampling."),
  base: z.string().min(1).describe("Checkpoint directory of the base model (relative to the working directory)."),
  sampler: SamplerConfig.omit({ num_generations: true, max_new_tokens: true }).prefault({})
    .describe("Temperature, top-k/top-p, stop strings; G and the budget come from grpo.num_generations and grpo.max_completion_length."),
  grpo: GrpoConfig.prefault({}).describe("The GRPO loss: group size, budget, loss type, clipping, KL."),
  optimizer: OptimizerConfig.prefault({}).describe("AdamW and its learning-rate schedule."),
  train: GrpoTrainConfig.prefault({}).describe("Steps, batch, dynamic sampling, logs, checkpoints, guards."),
  eval: HeldOutEvalConfig.prefault({}).describe("How the held-out rows are sampled and graded."),
  output_dir: z.string().default("runs").describe("Parent directory of the run directory."),
  rc: RcTrainConfig.optional()
    .describe("Reasoning-cache RL (trainer/REASONING-CACHE.md): each step rolls out rc.turns RC turns per prompt, then trains on K = grpo.num_generations reasoning completions per (problem, summary state), one GRPO group each (grpo.max_completion_length is replaced by rc.reason_tokens; train.dynamic_sampling is not supported). Absent: plain GRPO."),
}).superRefine(checkGrpoRunConfig);
export type GrpoRunConfig = z.infer<typeof GrpoRunConfig>;

/** The checks across sections, shared with the recipe schema that extends this one. */
export function checkGrpoRunConfig(r: Pick<GrpoRunConfig, "rc" | "train">, ctx: z.RefinementCtx): void {
  if (r.rc && r.train.dynamic_sampling) ctx.addIssue({ code: "custom", path: ["train", "dynamic_sampling"], message: "dynamic_sampling is not supported with rc" });
}

/** The sampler of a run: the recipe's sampling settings with GRPO's group size G and completion budget (rc.reason_tokens under rc). */
export function groupSampler(c: GrpoRunConfig): SamplerConfig {
  return SamplerConfig.parse({ ...c.sampler, num_generations: c.grpo.num_generations, max_new_tokens: groupLoss(c).max_completion_length });
}

/** The loss settings of a run: under rc, the trained completions' budget L is H_R. */
export function groupLoss(c: GrpoRunConfig): GrpoConfig {
  return c.rc ? { ...c.grpo, max_completion_length: c.rc.reason_tokens } : c.grpo;
}

/** What a GRPO run needs beside its config: the rows' tokenizer, the resolved verifiers and held-out rows, and the command's I/O. */
export interface GrpoOptions extends RunIo {
  config: GrpoRunConfig;
  tokenizer: Tokenizer;
  verifiers: WeightedVerifier[];
  /** Held-out rows for eval/accuracy every train.eval_every steps. */
  evalRows?: Row[];
  /** Called once the worker threads are up (train.workers > 1): for tools and tests that watch the replicas. */
  onWorkers?: (pool: WorkerPool, model: Transformer) => void;
}

export interface GrpoRun {
  config: GrpoRunConfig;
  /** groupSampler(config) and groupLoss(config). */
  sampler: SamplerConfig;
  grpo: GrpoConfig;
  model: Transformer;
  optimizer: AdamW;
  tokenizer: Tokenizer;
  verifiers: WeightedVerifier[];
  rows: Row[];
  order: DataOrder;
  /** Frozen copy of the base model for the KL term; only when grpo.beta > 0. */
  reference?: Transformer;
  /** Where the per-step completions tables go (unset: not written). */
  completionsDir?: string;
  /** The data-parallel ranks beside this model (train.workers > 1). */
  workers?: WorkerPool;
}

/** One GRPO step; returns the step's metrics (TRL's names where they exist). */
export async function grpoStep(run: GrpoRun, step: number): Promise<Record<string, number>> {
  const t0 = performance.now();
  const G = run.grpo.num_generations;
  const train = run.config.train;
  const rounds = train.dynamic_sampling ? train.max_generation_rounds : 1;
  const kept: Rollouts = { rows: [], prompts: [], completions: [], total: new Float32Array(0), allNull: [], rewards: {} };
  let first: Record<string, number> = {};
  let dropped = 0;
  let roundsUsed = 0;
  let sampleMs = 0;
  let verifyMs = 0;
  let sampledTokens = 0;
  for (let round = 0; round < rounds && kept.rows.length < train.prompts_per_step; round++) {
    roundsUsed++;
    const rows = run.order.next(train.prompts_per_step).map((i) => run.rows[i]);
    const r = await rollout(run, rows, deriveSeed(run.config.seed, step, round));
    sampleMs += r.sampleMs;
    verifyMs += r.verifyMs;
    sampledTokens += r.completions.reduce((s, c) => s + c.tokens.length, 0);
    if (round === 0) first = roundMetrics(r, G);
    const groups = train.dynamic_sampling ? dynamicSamplingFilter(r.total, G, r.allNull) : { keep: rows.map((_, i) => i), dropped: 0 };
    dropped += groups.dropped;
    appendGroups(kept, r, groups.keep.slice(0, train.prompts_per_step - kept.rows.length), G);
  }
  const advantages = groupAdvantages(kept.total, G, { scale: run.grpo.scale_rewards, allNull: kept.allNull });
  const noUpdate = { skipped_updates: 0, "timing_s/old_log_prob": 0, "timing_s/ref": 0, "timing_s/update_actor": 0 };
  const update = !kept.rows.length ? noUpdate : run.workers ? await updatePolicySharded(run.workers, run, kept, advantages, step) : updatePolicy(run, kept, advantages, step);
  if (run.completionsDir && (step + 1) % train.completions_every === 0) writeCompletions(run, kept, advantages, step + 1);
  const dynamic: Record<string, number> = train.dynamic_sampling ? { "dynamic_sampling/dropped_groups": dropped, "dynamic_sampling/rounds": roundsUsed, "dynamic_sampling/groups": kept.rows.length } : {};
  return stepRecord(run, step, { round: first, update, kept, sampledTokens, sampleMs, verifyMs, t0 }, dynamic);
}

/** Runs GRPO from a base checkpoint (or the run's newest checkpoint with `resume`). */
export async function runGrpo(rows: Row[], o: GrpoOptions): Promise<{ runDir: string; step: number }> {
  const c = o.config;
  const start = startGrpoRun(o, { epoch: 0, index: 0 }, DataCursor);
  if (start.resumedFrom) o.log(`resuming ${c.name} from ${start.resumedFrom} (step ${start.step})`);
  const { model, optimizer, dir } = start;
  const run: GrpoRun = {
    config: c, sampler: groupSampler(c), grpo: groupLoss(c), model, optimizer, tokenizer: o.tokenizer, verifiers: o.verifiers,
    rows, order: new DataOrder(rows.length, c.seed, start.cursor),
    reference: c.grpo.beta > 0 ? loadCheckpoint(c.base).model : undefined,
    completionsDir: completionsDirOf(c, dir),
  };
  const step = await disposingAfter(run, async () => {
    const ranks = rankCount(c.train.workers);
    if (ranks > 1) {
      run.workers = await WorkerPool.start(model, { workers: ranks, grpo: run.grpo, referenceBase: run.reference ? c.base : undefined });
      o.onWorkers?.(run.workers, model);
    }
    return grpoLoop(o, start, {
      step: (s) => grpoStep(run, s),
      evaluate: async (s, record) => {
        const sharded = run.workers && shardedGroupSampler(run.workers, model, o.tokenizer);
        const acc = await evaluateAccuracy(model, o.tokenizer, o.evalRows!, c.eval, deriveSeed(c.seed, s, 0xe7a1), sharded);
        record["eval/accuracy"] = acc.pass1;
        record[`eval/pass@${acc.k}`] = acc.passK;
      },
      line: (r, s) => {
        const fixed = (v: number | undefined, d: number) => (v === undefined ? "-" : v.toFixed(d));
        const evalPart = r["eval/accuracy"] === undefined ? "" : `  eval/accuracy ${(100 * r["eval/accuracy"]).toFixed(1)}%`;
        return `step ${s}/${c.train.steps}  reward ${fixed(r.reward, 3)}  loss ${fixed(r.loss, 4)}  grad_norm ${fixed(r.grad_norm, 3)}${evalPart}  ${r.step_time.toFixed(1)} s/step`;
      },
      cursor: () => run.order.cursor,
    }).finally(() => run.workers?.close());
  });
  return { runDir: dir.path, step };
}

/** Where a run writes its completions tables, or undefined when it writes none. */
export const completionsDirOf = (c: GrpoRunConfig, dir: RunDir) => (c.train.completions_every > 0 ? path.join(dir.path, "completions") : undefined);

/** A GRPO-family run's start: the base checkpoint's weights, or the run's newest checkpoint with `resume`. */
export function startGrpoRun<C>(o: GrpoOptions, fresh: C, cursorSchema: z.ZodType<C>): RunStart<C> {
  return startRun(o.config, o, () => loadCheckpoint(o.config.base).model, fresh, cursorSchema);
}

/** The shared run loop with GRPO's evaluation schedule: every eval_every steps and at the end (0 = never). */
export function grpoLoop(o: GrpoOptions, start: RunStart<unknown>, hooks: Omit<LoopHooks, "evalDue">): Promise<number> {
  const train = o.config.train;
  const evalDue = (step: number) => Boolean(o.evalRows?.length) && train.eval_every > 0 && (step % train.eval_every === 0 || step === train.steps);
  return runLoop(start, train, { ...hooks, evalDue }, o);
}
