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
import { dynamicSamplingFilter, groupAdvantages, groupStats } from "./advantages.ts";
import { GrpoConfig } from "./grpo.ts";
import { loadCheckpoint } from "./model/checkpoint.ts";
import type { Tokenizer } from "./model/tokenizer.ts";
import type { Transformer } from "./model/transformer.ts";
import type { AdamW } from "./optimizer.ts";
import { learningRate, type OptimizerConfig } from "./optimizer.ts";
import { deriveSeed } from "../datasets/rng.ts";
import { writeCompletions } from "./completions-table.ts";
import { appendGroups, completionMetrics, rollout, type Rollouts } from "./rollout.ts";
import type { SamplerConfig } from "./sampler.ts";
import { updatePolicy } from "./update.ts";
import type { RunDir } from "./run-dir.ts";
import { disposingAfter, runLoop, RunGuardConfig, startRun, type LoopHooks, type RunStart, type RunStatus } from "./run-loop.ts";
import { DataCursor, DataOrder } from "./data-order.ts";
import { evaluateAccuracy, HeldOutEvalConfig } from "./eval/held-out.ts";

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
});
export type GrpoTrainConfig = z.infer<typeof GrpoTrainConfig>;

export interface GrpoRun {
  name: string;
  seed: number;
  model: Transformer;
  optimizer: AdamW;
  optimizerConfig: OptimizerConfig;
  tokenizer: Tokenizer;
  verifiers: WeightedVerifier[];
  sampler: SamplerConfig;
  grpo: GrpoConfig;
  train: GrpoTrainConfig;
  rows: Row[];
  order: DataOrder;
  /** Frozen copy of the base model for the KL term; only when grpo.beta > 0. */
  reference?: Transformer;
  /** Where the per-step completions tables go (unset: not written). */
  completionsDir?: string;
}


/** One GRPO step; returns the step's metrics (TRL's names where they exist). */
export async function grpoStep(run: GrpoRun, step: number): Promise<Record<string, number>> {
  const t0 = performance.now();
  const G = run.grpo.num_generations;
  const rounds = run.train.dynamic_sampling ? run.train.max_generation_rounds : 1;
  const kept: Rollouts = { rows: [], prompts: [], completions: [], total: new Float32Array(0), allNull: [], rewards: {} };
  let firstRound: Record<string, number> = {};
  let dropped = 0;
  let roundsUsed = 0;
  let sampleMs = 0;
  let verifyMs = 0;
  let sampledTokens = 0;
  for (let round = 0; round < rounds && kept.rows.length < run.train.prompts_per_step; round++) {
    roundsUsed++;
    const rows = run.order.next(run.train.prompts_per_step).map((i) => run.rows[i]);
    const r = await rollout(run, rows, deriveSeed(run.seed, step, round));
    sampleMs += r.sampleMs;
    verifyMs += r.verifyMs;
    sampledTokens += r.completions.reduce((s, c) => s + c.tokens.length, 0);
    if (round === 0) firstRound = { ...r.metrics, ...groupStats(r.total, G, r.allNull), ...completionMetrics(r.completions) };
    const groups = run.train.dynamic_sampling ? dynamicSamplingFilter(r.total, G, r.allNull) : { keep: rows.map((_, i) => i), dropped: 0 };
    dropped += groups.dropped;
    appendGroups(kept, r, groups.keep.slice(0, run.train.prompts_per_step - kept.rows.length), G);
  }
  const advantages = groupAdvantages(kept.total, G, { scale: run.grpo.scale_rewards, allNull: kept.allNull });
  const update = kept.rows.length ? updatePolicy(run, kept, advantages, step) : { skipped_updates: 0, "timing_s/old_log_prob": 0, "timing_s/ref": 0, "timing_s/update_actor": 0 };
  if (run.completionsDir && (step + 1) % run.train.completions_every === 0) writeCompletions(run, kept, advantages, step + 1);
  return {
    step: step + 1,
    ...firstRound,
    ...update,
    ...(run.train.dynamic_sampling ? { "dynamic_sampling/dropped_groups": dropped, "dynamic_sampling/rounds": roundsUsed, "dynamic_sampling/groups": kept.rows.length } : {}),
    learning_rate: learningRate(step, run.train.steps, run.optimizerConfig),
    num_tokens: kept.completions.reduce((s, c) => s + c.tokens.length, 0),
    "sample/tokens_per_s": sampledTokens / (sampleMs / 1000),
    // verl's names: where a step's time goes (seconds; every round of dynamic sampling included)
    "timing_s/gen": sampleMs / 1000,
    "timing_s/reward": verifyMs / 1000,
    step_time: (performance.now() - t0) / 1000,
  };
}


export interface GrpoOptions {
  name: string;
  seed: number;
  /** Checkpoint directory of the base model. */
  base: string;
  tokenizer: Tokenizer;
  verifiers: WeightedVerifier[];
  sampler: SamplerConfig;
  grpo: GrpoConfig;
  optimizer: OptimizerConfig;
  train: GrpoTrainConfig;
  outputDir: string;
  /** Continue from the run's newest checkpoint. */
  resume: boolean;
  /** Delete an earlier run under this name first (without it, a non-empty run directory is refused). */
  overwrite?: boolean;
  log: (line: string) => void;
  /** Kept current as the run goes, for an interrupt handler. */
  status?: RunStatus;
  /** Held-out rows for eval/accuracy, and how to sample them. */
  evalRows?: Row[];
  evalConfig?: z.infer<typeof HeldOutEvalConfig>;
  /** A live progress display (a bar on a TTY); when given, per-step lines are left to it. */
  progress?: { update(step: number, total: number, record: Record<string, number>): void };
}

/** Runs GRPO from a base checkpoint (or the run's newest checkpoint with `resume`). */
export async function runGrpo(rows: Row[], o: GrpoOptions): Promise<{ runDir: string; step: number }> {
  const start = startGrpoRun(o, { epoch: 0, index: 0 }, DataCursor);
  if (start.resumedFrom) o.log(`resuming ${o.name} from ${start.resumedFrom} (step ${start.step})`);
  const { model, optimizer, dir } = start;
  const run: GrpoRun = {
    name: o.name, seed: o.seed, model, optimizer, optimizerConfig: o.optimizer, tokenizer: o.tokenizer, verifiers: o.verifiers,
    // the group size and budget are GRPO's: a sampler drawing another G would misalign every group
    sampler: { ...o.sampler, num_generations: o.grpo.num_generations, max_new_tokens: o.grpo.max_completion_length },
    grpo: o.grpo, train: o.train, rows, order: new DataOrder(rows.length, o.seed, start.cursor),
    reference: o.grpo.beta > 0 ? loadCheckpoint(o.base).model : undefined,
    completionsDir: completionsDirOf(o, dir),
  };
  const step = await disposingAfter(run, () =>
    grpoLoop(o, start, {
      step: (s) => grpoStep(run, s),
      evaluate: async (s, record) => {
        const acc = await evaluateAccuracy(model, o.tokenizer, o.evalRows!, o.evalConfig ?? HeldOutEvalConfig.parse({}), deriveSeed(o.seed, s, 0xe7a1));
        record["eval/accuracy"] = acc.pass1;
        record[`eval/pass@${acc.k}`] = acc.passK;
      },
      line: (r, s) => {
        const fixed = (v: number | undefined, d: number) => (v === undefined ? "-" : v.toFixed(d));
        const evalPart = r["eval/accuracy"] === undefined ? "" : `  eval/accuracy ${(100 * r["eval/accuracy"]).toFixed(1)}%`;
        return `step ${s}/${o.train.steps}  reward ${fixed(r.reward, 3)}  loss ${fixed(r.loss, 4)}  grad_norm ${fixed(r.grad_norm, 3)}${evalPart}  ${r.step_time.toFixed(1)} s/step`;
      },
      cursor: () => run.order.cursor,
    }),
  );
  return { runDir: dir.path, step };
}

/** Where a run writes its completions tables, or undefined when it writes none. */
export const completionsDirOf = (o: GrpoOptions, dir: RunDir) => (o.train.completions_every > 0 ? path.join(dir.path, "completions") : undefined);

/** A GRPO-family run's start: the base checkpoint's weights, or the run's newest checkpoint with `resume`. */
export function startGrpoRun<C>(o: GrpoOptions, fresh: C, cursorSchema: z.ZodType<C>): RunStart<C> {
  return startRun(o, () => loadCheckpoint(o.base).model, fresh, cursorSchema);
}

/** The shared run loop with GRPO's evaluation schedule: every eval_every steps and at the end (0 = never). */
export function grpoLoop(o: GrpoOptions, start: RunStart<unknown>, hooks: Omit<LoopHooks, "evalDue">): Promise<number> {
  const every = o.train.eval_every;
  const evalDue = (step: number) => Boolean(o.evalRows?.length) && every > 0 && (step % every === 0 || step === o.train.steps);
  return runLoop(start, o.train, { ...hooks, evalDue }, o);
}

