/**
 * Rollouts: G completions sampled for each prompt of a batch and scored by the recipe's verifiers,
 * and the batch a GRPO step trains on, gathered from one or more rounds (dynamic sampling).
 */
import type { Row } from "../datasets/row.ts";
import { scoreCompletions } from "../verifiers/registry.ts";
import type { GrpoRun } from "./grpo-trainer.ts";
import { formatPrompt } from "./prompt.ts";
import { groupStats } from "./advantages.ts";
import { learningRate } from "./optimizer.ts";
import { sampleGroups, type Completion } from "./sampler.ts";
import { sampleSharded } from "./parallel/data-parallel.ts";

/** One round of generation and scoring for `rows`. */
export interface Rollouts {
  rows: Row[];
  prompts: string[];
  completions: Completion[];
  total: Float32Array;
  allNull: boolean[];
  /** Each verifier's reward per completion. */
  rewards: Record<string, (number | null)[]>;
}


/** A round as sampled and scored: its verifiers' metrics and where its time went. */
export type ScoredRound = Rollouts & { metrics: Record<string, number>; sampleMs: number; verifyMs: number };

/**
 * Samples G completions for each prompt (by default each row's own) and scores them against its
 * row with the run's verifiers: the rollout of a GRPO step, and the trained completions of an
 * RC-RL step, whose prompts are reasoning-cache states.
 */
export async function rollout(run: GrpoRun, rows: Row[], seed: number, prompts = rows.map(formatPrompt)): Promise<ScoredRound> {
  const t0 = performance.now();
  const completions = run.workers ? await sampleSharded(run.workers, run, prompts, seed) : await sampleGroups(run.model, run.tokenizer, prompts, run.sampler, seed);
  const t1 = performance.now();
  const scores = await scoreCompletions(run.verifiers, completions.map((c) => ({
    completion: c.text,
    row: rows[c.group],
    ctx: { completionTokens: c.tokens.length, maxCompletionTokens: run.sampler.max_new_tokens },
  })));
  return { rows, prompts, completions, total: scores.total, allNull: scores.allNull, rewards: scores.rewards, metrics: scores.metrics,
    sampleMs: t1 - t0, verifyMs: performance.now() - t1 };
}

/** Appends the chosen groups of a round to the step's batch, renumbering their group index. */
export function appendGroups(kept: Rollouts, r: Rollouts, groups: number[], G: number): void {
  const total = Array.from(kept.total);
  for (const g of groups) {
    const index = kept.rows.length;
    kept.rows.push(r.rows[g]);
    kept.prompts.push(r.prompts[g]);
    for (let j = 0; j < G; j++) {
      kept.completions.push({ ...r.completions[g * G + j], group: index });
      total.push(r.total[g * G + j]);
      kept.allNull.push(r.allNull[g * G + j]);
      for (const [name, values] of Object.entries(r.rewards)) (kept.rewards[name] ??= []).push(values[g * G + j]);
    }
  }
  kept.total = Float32Array.from(total);
}


/** TRL's completions/* metrics of a batch (lengths in tokens, clipped = hit the budget). */
export function completionMetrics(completions: Completion[]): Record<string, number> {
  const lengths = completions.map((c) => c.tokens.length);
  const terminated = completions.filter((c) => !c.truncated).map((c) => c.tokens.length);
  return {
    "completions/mean_length": lengths.reduce((a, b) => a + b, 0) / lengths.length,
    "completions/min_length": Math.min(...lengths),
    "completions/max_length": Math.max(...lengths),
    "completions/clipped_ratio": completions.filter((c) => c.truncated).length / completions.length,
    "completions/mean_terminated_length": terminated.length ? terminated.reduce((a, b) => a + b, 0) / terminated.length : 0,
  };
}

/** The reward and length statistics of one sampled round (TRL's names). */
export function roundMetrics(r: ScoredRound, G: number): Record<string, number> {
  return { ...r.metrics, ...groupStats(r.total, G, r.allNull), ...completionMetrics(r.completions) };
}

/** What a step measured, for its metrics line. */
export interface StepParts {
  /** roundMetrics of its (first) round. */
  round: Record<string, number>;
  /** updatePolicy's metrics. */
  update: Record<string, number>;
  /** The batch it trained on. */
  kept: Rollouts;
  /** Tokens sampled in the step, every round and RC rollout included, and the time it took. */
  sampledTokens: number;
  sampleMs: number;
  verifyMs: number;
  /** performance.now() when the step began. */
  t0: number;
}

/** The metrics line of a GRPO or RC-RL step: TRL's names, and verl's timing_s/* split of the step time. */
export function stepRecord(run: GrpoRun, step: number, p: StepParts, extra: Record<string, number> = {}): Record<string, number> {
  return {
    step: step + 1,
    ...p.round,
    ...p.update,
    ...extra,
    learning_rate: learningRate(step, run.config.train.steps, run.config.optimizer),
    num_tokens: p.kept.completions.reduce((s, c) => s + c.tokens.length, 0),
    "sample/tokens_per_s": p.sampledTokens / (p.sampleMs / 1000),
    "timing_s/gen": p.sampleMs / 1000,
    "timing_s/reward": p.verifyMs / 1000,
    step_time: (performance.now() - p.t0) / 1000,
  };
}
