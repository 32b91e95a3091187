/**
 * The update: gradients of one or more micro-batches summed, clipped and applied in one AdamW step
 * (applyUpdate), for a supervised batch (lmTrainStep) or for a GRPO step's completions
 * (updatePolicy: π_old and π_ref log-probs first, then num_iterations updates on the same batch).
 */
import * as tf from "@tensorflow/tfjs";
import { grpoLoss, lossMask } from "./grpo.ts";
import type { GrpoRun } from "./grpo-trainer.ts";
import { batchLogProbs, lmBatchOf, lmLoss, type LmArrays, type LmBatch } from "./lm.ts";
import { mergeMoeStats, type MoeStats } from "./model/moe.ts";
import type { Transformer } from "./model/transformer.ts";
import { learningRate, type AdamW, type StepResult } from "./optimizer.ts";
import { completionBatch } from "./completion-batch.ts";
import type { Rollouts } from "./rollout.ts";
import type { GrpoConfig } from "./grpo.ts";
import type { Tokenizer } from "./model/tokenizer.ts";
import type { Completion } from "./sampler.ts";
import type { LmMicro } from "./parallel/protocol.ts";

export interface LmStepResult extends StepResult {
  loss: number;
  nll: number;
  moe: Map<number, MoeStats>;
}

export type LossFn = () => { loss: tf.Scalar; moe: Map<number, MoeStats> };

/**
 * One optimizer update of `model` on the scalar `lossFn` returns (which must also report the
 * step's MoE routing): backward, clip, AdamW, then the aux-free router-bias nudge. A non-finite
 * loss or gradient skips the update and changes nothing. Several loss functions are micro-batches
 * of one step: their gradients add up (each loss carries its own share of the step) before the
 * single update, so peak memory is one micro-batch's.
 */
export function applyUpdate(model: Transformer, optimizer: AdamW, lr: number, lossFns: LossFn | LossFn[]): StepResult & { loss: number; moe: Map<number, MoeStats> } {
  const parts: Map<number, MoeStats>[] = [];
  let loss = 0;
  let grads: Map<string, tf.Tensor> | undefined;
  try {
    for (const lossFn of Array.isArray(lossFns) ? lossFns : [lossFns]) {
      const g = microBatchGrads(model, lossFn, parts);
      loss += g.loss;
      grads = grads ? addInto(grads, g.grads) : g.grads;
    }
    return applyGradients(model, optimizer, lr, grads!, loss, parts);
  } finally {
    if (grads) tf.dispose([...grads.values()]);
  }
}

/** The step's summed gradients applied (unless the loss is not finite), then the router-bias nudge from its micro-batches' routing. */
export function applyGradients(model: Transformer, optimizer: AdamW, lr: number, grads: Map<string, tf.Tensor>, loss: number, parts: Map<number, MoeStats>[]): StepResult & { loss: number; moe: Map<number, MoeStats> } {
  const moe = mergeRouting(parts);
  const step = Number.isFinite(loss) ? optimizer.step(grads, lr) : { gradNorm: Number.NaN, skipped: true };
  if (!step.skipped) model.updateRouterBias(moe);
  return { ...step, loss, moe };
}

/** One micro-batch's loss value and gradients by parameter name; its routing is pushed onto `parts`. */
export function microBatchGrads(model: Transformer, lossFn: LossFn, parts: Map<number, MoeStats>[]): { loss: number; grads: Map<string, tf.Tensor> } {
  const { value, grads } = tf.variableGrads(() => {
    const out = lossFn();
    parts.push(out.moe);
    return out.loss;
  }, model.variables());
  const named = new Map<string, tf.Tensor>();
  for (const [name, v] of model.params) if (grads[v.name]) named.set(name, grads[v.name]);
  const used = new Set(named.values());
  tf.dispose(Object.values(grads).filter((g) => !used.has(g)));
  const loss = value.dataSync()[0];
  value.dispose();
  return { loss, grads: named };
}

/** acc += more, freeing the old sums and `more`. */
function addInto(acc: Map<string, tf.Tensor>, more: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  for (const [name, g] of more) {
    const prev = acc.get(name);
    if (!prev) {
      acc.set(name, g);
      continue;
    }
    acc.set(name, tf.add(prev, g));
    tf.dispose([prev, g]);
  }
  return acc;
}

/** Per-layer routing stats of the step's micro-batches merged into one record per layer. */
function mergeRouting(parts: Map<number, MoeStats>[]): Map<number, MoeStats> {
  if (parts.length === 1) return parts[0];
  const layers = new Set(parts.flatMap((p) => [...p.keys()]));
  return new Map([...layers].map((layer) => [layer, mergeMoeStats(parts.map((p) => p.get(layer)).filter((s): s is MoeStats => s !== undefined))]));
}

/** One supervised update on a batch (label smoothing ε as in lmLoss). */
export function lmTrainStep(model: Transformer, optimizer: AdamW, batch: LmBatch, lr: number, labelSmoothing = 0): LmStepResult {
  let nll = 0;
  let moe = new Map<number, MoeStats>();
  const step = applyUpdate(model, optimizer, lr, () => {
    const out = lmLoss(model, batch, true, labelSmoothing);
    nll = out.nll.dataSync()[0];
    moe = out.moe;
    return out;
  });
  return { ...step, nll, moe };
}

/**
 * A supervised step cut into micro-batches (contiguous runs of the batch's rows): the scored tokens
 * of the whole step and each micro-batch's share of its rows, what each micro-batch's loss needs
 * (lmLoss's `step`) so that their sum is the whole batch's loss.
 */
export function lmMicroBatches(batch: LmArrays[]): LmMicro[] {
  const rows = batch.reduce((n, a) => n + a.rows, 0);
  const tokens = batch.reduce((n, a) => n + a.mask.reduce((s, m) => s + m, 0), 0);
  return batch.map((arrays) => ({ arrays, tokens, auxShare: arrays.rows / rows }));
}

/** One micro-batch's supervised loss (its tensors live only inside the gradient computation). */
export function lmMicroLoss(model: Transformer, m: LmMicro, labelSmoothing: number): { loss: tf.Scalar; nll: tf.Scalar; moe: Map<number, MoeStats> } {
  return lmLoss(model, lmBatchOf(m.arrays), true, labelSmoothing, m);
}

/** One supervised update over micro-batches, their gradients summed in order before the one AdamW step. */
export function lmTrainStepMicro(model: Transformer, optimizer: AdamW, batch: LmArrays[], lr: number, labelSmoothing = 0): LmStepResult {
  let nll = 0;
  const step = applyUpdate(model, optimizer, lr, lmMicroBatches(batch).map((m) => () => {
    const out = lmMicroLoss(model, m, labelSmoothing);
    nll += out.nll.dataSync()[0];
    return out;
  }));
  return { ...step, nll };
}

/** num_iterations updates on one generated batch; π_old is the policy that sampled it. */
export function updatePolicy(run: GrpoRun, kept: Rollouts, advantages: Float32Array, step: number): Record<string, number> {
  const timing = { old: 0, ref: 0 };
  const micro = microBatchSpecs(run, kept, advantages).map((s) => buildMicroBatch(run, s, timing));
  const lr = learningRate(step, run.config.train.steps, run.config.optimizer);
  let out: Record<string, number> = {};
  const tUpdate = performance.now();
  try {
    const activeTokensInStep = activeTokens(run, kept);
    for (let it = 0; it < run.grpo.num_iterations; it++) out = updateOnce(run, micro, lr, activeTokensInStep);
    out["timing_s/update_actor"] = (performance.now() - tUpdate) / 1000;
    out["timing_s/old_log_prob"] = timing.old / 1000;
    out["timing_s/ref"] = timing.ref / 1000;
  } finally {
    for (const m of micro) disposeMicroBatch(m);
  }
  return out;
}

/**
 * dapo's denominator: every completion's loss-mask tokens (completionBatch masks exactly c.tokens),
 * skipped zero-advantage ones included, so skipping them leaves the update unchanged.
 */
export function activeTokens(run: Pick<GrpoRun, "grpo">, kept: Rollouts): number {
  return kept.completions.reduce((s, c) => s + (run.grpo.mask_truncated_completions && c.truncated ? 0 : c.tokens.length), 0);
}

/** What a GRPO micro-batch's loss needs: the run's model, or a worker's replica of it. */
export interface PolicyReplica {
  model: Transformer;
  tokenizer: Tokenizer;
  grpo: GrpoConfig;
  /** The frozen base for the KL term (grpo.beta > 0). */
  reference?: Transformer;
}

/** A micro-batch before its tensors are made: plain data, which is what a worker is sent. */
export interface MicroBatchSpec {
  /** The step's prompts; completions' `group` indexes them. */
  prompts: string[];
  completions: Completion[];
  advantages: number[];
  /** Its share of the step's completions: sequence-mean losses are weighted by it. */
  share: number;
  /** Its share of the completions that go through the update (all of them unless skip_zero_advantage): aux losses and metrics are weighted by it. */
  auxShare: number;
}

/** A slice of the step's completions that goes through one forward/backward pass. */
export interface MicroBatch {
  batch: LmBatch;
  adv: tf.Tensor1D;
  mask: tf.Tensor2D;
  truncated: boolean[];
  oldLogp?: tf.Tensor2D;
  refLogp?: tf.Tensor2D;
  share: number;
  auxShare: number;
}

/** Cuts the step into micro-batches of train.micro_batch_size completions (the specs, no tensors yet). */
export function microBatchSpecs(run: GrpoRun, kept: Rollouts, advantages: Float32Array): MicroBatchSpec[] {
  const n = kept.completions.length;
  const all = kept.completions.map((_, i) => i);
  const informative = all.filter((i) => advantages[i] !== 0);
  // a step with no signal still makes its (momentum, aux-loss, weight-decay) update, as without skipping
  const trained = run.grpo.skip_zero_advantage && informative.length ? informative : all;
  const size = run.config.train.micro_batch_size > 0 ? run.config.train.micro_batch_size : Math.max(1, trained.length);
  const out: MicroBatchSpec[] = [];
  for (let start = 0; start < trained.length; start += size) {
    const picked = trained.slice(start, start + size);
    out.push({
      prompts: kept.prompts,
      completions: picked.map((i) => kept.completions[i]),
      advantages: picked.map((i) => advantages[i]),
      share: picked.length / n,
      auxShare: picked.length / trained.length,
    });
  }
  return out;
}

/**
 * A micro-batch's tensors, each padded to its own longest sequence. π_old and π_ref log-probs are
 * computed here, before any update.
 */
export function buildMicroBatch(r: PolicyReplica, s: MicroBatchSpec, timing: { old: number; ref: number }): MicroBatch {
  const truncated = s.completions.map((c) => c.truncated);
  const batch = completionBatch(r.tokenizer, s.prompts, s.completions);
  const t0 = performance.now();
  // π_old: with one update it is π_θ detached (ρ = 1 in value); with more it must be frozen first
  const oldLogp = r.grpo.num_iterations > 1 ? settled(tf.tidy(() => batchLogProbs(r.model, batch, false).logp)) : undefined;
  const t1 = performance.now();
  const refLogp = r.reference ? settled(tf.tidy(() => batchLogProbs(r.reference!, batch, false).logp)) : undefined;
  timing.old += t1 - t0;
  timing.ref += performance.now() - t1;
  return { batch, adv: tf.tensor1d(s.advantages), mask: lossMask(batch.mask, truncated, r.grpo), truncated, oldLogp, refLogp, share: s.share, auxShare: s.auxShare };
}

export function disposeMicroBatch(m: MicroBatch): void {
  tf.dispose([m.batch.tokens, m.batch.targets, m.batch.mask, m.adv, m.mask, ...(m.oldLogp ? [m.oldLogp] : []), ...(m.refLogp ? [m.refLogp] : [])]);
}

/** Waits for a tensor's values, so that time spent on an asynchronous backend is counted where it is spent. */
function settled<T extends tf.Tensor>(t: T): T {
  t.dataSync();
  return t;
}

/**
 * One micro-batch's share of the step's loss, with its GRPO metrics and its (weighted) MoE aux loss
 * read out; the metrics are unweighted, the caller adds them up weighted by auxShare.
 */
export function microBatchLoss(r: PolicyReplica, m: MicroBatch, activeTokensInStep: number): { loss: tf.Scalar; moe: Map<number, MoeStats>; metrics: Record<string, number>; aux: number } {
  // dapo divides by the step's active tokens already; the per-sequence means are weighted by share
  const lossWeight = r.grpo.loss_type === "dapo" ? 1 : m.share;
  // entropy always: TRL logs it, and it shows whether GRPO is sharpening the policy
  const lp = batchLogProbs(r.model, m.batch, true, { entropy: true });
  const inputs = { logp: lp.logp, oldLogp: m.oldLogp, refLogp: m.refLogp, entropy: lp.entropy, advantages: m.adv, mask: m.mask, truncated: m.truncated };
  const { loss, metrics } = grpoLoss(inputs, r.grpo, { activeTokensInStep });
  const aux = lp.aux.dataSync()[0];
  return { loss: tf.add(tf.mul(loss, lossWeight), tf.mul(lp.aux, m.auxShare)) as tf.Scalar, moe: lp.moe, metrics: { ...metrics }, aux };
}

/** One optimizer update with gradients summed over the micro-batches; metrics averaged by share. */
function updateOnce(run: GrpoRun, micro: MicroBatch[], lr: number, activeTokensInStep: number): Record<string, number> {
  const metrics: Record<string, number> = {};
  let aux = 0;
  const result = applyUpdate(run.model, run.optimizer, lr, micro.map((m) => () => {
    const out = microBatchLoss(run, m, activeTokensInStep);
    for (const [k, v] of Object.entries(out.metrics)) metrics[k] = (metrics[k] ?? 0) + v * m.auxShare;
    aux += out.aux * m.auxShare;
    return out;
  }));
  return updateMetrics(result, aux, metrics);
}

/** The update's metrics line: the loss without the aux part, and the MoE routing. */
export function updateMetrics(result: StepResult & { loss: number; moe: Map<number, MoeStats> }, aux: number, metrics: Record<string, number>): Record<string, number> {
  return { loss: result.loss - aux, aux_loss: aux, grad_norm: result.gradNorm, skipped_updates: result.skipped ? 1 : 0, ...metrics, ...moeMetrics(result.moe) };
}

function moeMetrics(moe: Map<number, MoeStats>): Record<string, number> {
  const out: Record<string, number> = {};
  if (moe.size === 0) return out;
  let violation = 0;
  let entropy = 0;
  let drop = 0;
  for (const [layer, s] of moe) {
    s.load.forEach((l, e) => (out[`moe/load/${layer}/${e}`] = l));
    violation = Math.max(violation, s.maxViolation);
    entropy += s.routerEntropy / moe.size;
    drop += s.dropRate / moe.size;
  }
  return { ...out, "moe/max_violation": violation, "moe/router_entropy": entropy, "moe/drop_rate": drop };
}

