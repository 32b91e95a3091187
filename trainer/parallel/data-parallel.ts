/**
 * A GRPO step's two halves across the ranks of a WorkerPool. Rollouts: the prompts are cut into
 * contiguous chunks, one per rank, each sampled with its prompts' global indices as seed keys, so
 * every completion is the one the single-process sampler draws. Update: whole micro-batches are
 * dealt out in contiguous runs; each rank writes each of its micro-batches' gradients to that
 * micro-batch's slot in shared memory; rank 0 sums the slots in micro-batch order (what the
 * single-process update does), applies the one AdamW step, and the replicas load the new weights.
 */
import * as tf from "@tensorflow/tfjs";
import type { GrpoRun } from "../grpo-trainer.ts";
import type { MoeStats } from "../model/moe.ts";
import type { Transformer } from "../model/transformer.ts";
import { learningRate, type AdamW } from "../optimizer.ts";
import type { GroupSampler } from "../eval/held-out.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import type { Rollouts } from "../rollout.ts";
import { sampleGroups, type Completion } from "../sampler.ts";
import { activeTokens, applyGradients, buildMicroBatch, disposeMicroBatch, microBatchGrads, microBatchLoss, microBatchSpecs, updateMetrics, type LossFn, type MicroBatch, type PolicyReplica } from "../update.ts";
import { chunks, indices, sumSlots, type Layout } from "./allreduce.ts";
import type { GradReply } from "./protocol.ts";
import type { WorkerPool } from "./workers.ts";

/**
 * sampleGroups over the pool's ranks: the same completions, in the same order, as one rank draws.
 * `keys` gives each prompt its own seed key (evaluation keys prompts by dataset row); by default a
 * prompt's key is its index in `prompts`.
 */
export async function sampleSharded(pool: WorkerPool, run: Pick<GrpoRun, "model" | "tokenizer" | "sampler">, prompts: string[], seed: number, keys?: number[]): Promise<Completion[]> {
  const parts = chunks(prompts.length, pool.size);
  const keysOf = ([a, b]: [number, number]) => (keys ? keys.slice(a, b) : a);
  // rank 0's share runs here while the workers run theirs
  const all = await acrossRanks(parts.slice(1).map((part, i) =>
    part[0] === part[1] ? Promise.resolve([]) : pool.request(i + 1, { type: "sample", prompts: prompts.slice(...part), sampler: run.sampler, seed, promptOffset: keysOf(part) })),
  () => sampleGroups(run.model, run.tokenizer, prompts.slice(...parts[0]), run.sampler, seed, keysOf(parts[0])));
  return all.flatMap((cs, r) => cs.map((c) => ({ ...c, group: c.group + parts[r][0] })));
}

/** The held-out evaluation's sampler (evaluateAccuracy) over the pool's ranks. */
export function shardedGroupSampler(pool: WorkerPool, model: Transformer, tokenizer: Tokenizer): GroupSampler {
  return (prompts, sampler, seed) => sampleSharded(pool, { model, tokenizer, sampler }, prompts, seed);
}

/** updatePolicy (trainer/update.ts) with the micro-batches split across the pool's ranks. */
export async function updatePolicySharded(pool: WorkerPool, run: GrpoRun, kept: Rollouts, advantages: Float32Array, step: number): Promise<Record<string, number>> {
  const specs = microBatchSpecs(run, kept, advantages);
  const owners = chunks(specs.length, pool.size);
  const lr = learningRate(step, run.config.train.steps, run.config.optimizer);
  const timing = { old: 0, ref: 0 };
  const tUpdate = performance.now();
  const mine: MicroBatch[] = [];
  try {
    const remote = gather(owners.slice(1).map(([a, b], i) => pool.request(i + 1, { type: "batch", micro: specs.slice(a, b) })));
    try {
      for (const s of specs.slice(owners[0][0], owners[0][1])) mine.push(buildMicroBatch(run, s, timing));
    } finally {
      // a failure here or there: every reply is awaited before the error goes on
      await remote.settled;
    }
    await remote.all;
    const active = activeTokens(run, kept);
    let out: Record<string, number> = {};
    for (let it = 0; it < run.grpo.num_iterations; it++) {
      out = await updateOnceSharded(pool, run, mine, specs.map((s) => s.auxShare), owners, lr, active);
      await pool.sync(run.model);
    }
    out["timing_s/update_actor"] = (performance.now() - tUpdate) / 1000;
    out["timing_s/old_log_prob"] = timing.old / 1000;
    out["timing_s/ref"] = timing.ref / 1000;
    return out;
  } finally {
    mine.forEach(disposeMicroBatch);
    if (!pool.failure) await pool.all({ type: "drop" });
  }
}

async function updateOnceSharded(pool: WorkerPool, run: GrpoRun, mine: MicroBatch[], auxShares: number[], owners: [number, number][], lr: number, activeTokensInStep: number): Promise<Record<string, number>> {
  const count = owners[owners.length - 1][1];
  const slots = pool.gradSlots(count);
  const replies = (await acrossRanks(owners.slice(1).map(([a, b], i) =>
    pool.request(i + 1, { type: "grads", activeTokensInStep, slots: indices(a, b), grads: slots })),
  () => mine.map((m, k) => gradsToSlot(run, pool.params, m, activeTokensInStep, slots, owners[0][0] + k)))).flat();
  // the sums below run in micro-batch order, as the single-process update's
  let loss = 0;
  let aux = 0;
  const metrics: Record<string, number> = {};
  replies.forEach((g, k) => {
    const share = auxShares[k];
    loss += g.loss;
    for (const [key, v] of Object.entries(g.metrics)) metrics[key] = (metrics[key] ?? 0) + v * share;
    aux += g.aux * share;
  });
  return updateMetrics(applySlots(pool, run.model, run.optimizer, lr, slots, replies, loss), aux, metrics);
}

/**
 * The gradients the ranks wrote to `slots`, summed in micro-batch order, applied in the one AdamW
 * step (applyGradients) with the micro-batches' routing.
 */
export function applySlots(pool: WorkerPool, model: Transformer, optimizer: AdamW, lr: number, slots: Float32Array, replies: Pick<GradReply, "present" | "moe">[], loss: number): ReturnType<typeof applyGradients> {
  const summed = sumSlots(pool.params, slots, replies.map((g) => g.present));
  const grads = new Map([...summed].map(([name, data]) => [name, tf.tensor(data, model.params.get(name)!.shape, "float32")]));
  try {
    return applyGradients(model, optimizer, lr, grads, loss, replies.map((g) => new Map<number, MoeStats>(g.moe)));
  } finally {
    tf.dispose([...grads.values()]);
  }
}

/**
 * Rank 0's share computed here while ranks 1 … answer `requests`: the results in rank order. A
 * failure on either side goes on only once every reply is in, so no request is left unwatched.
 */
export async function acrossRanks<T>(requests: Promise<T>[], mine: () => T | Promise<T>): Promise<T[]> {
  const remote = gather(requests);
  let own: T;
  try {
    own = await mine();
  } catch (e) {
    await remote.settled;
    throw e;
  }
  return [own, ...(await remote.all)];
}

/**
 * The workers' replies, watched from the start: a worker that fails while rank 0 is still busy
 * (sampling yields to the event loop) must not surface as an unhandled rejection.
 */
function gather<T>(requests: Promise<T>[]): { all: Promise<T[]>; settled: Promise<unknown> } {
  const all = Promise.all(requests);
  all.catch(() => {});
  return { all, settled: Promise.allSettled(requests) };
}

/** A GRPO micro-batch's gradients into its slot of shared memory, and the rest of what the sum needs (any rank). */
export function gradsToSlot(run: PolicyReplica, params: Layout, m: MicroBatch, activeTokensInStep: number, slots: Float32Array, slot: number): GradReply {
  let metrics: Record<string, number> = {};
  let aux = 0;
  const g = lossGradsToSlot(run.model, params, () => {
    const out = microBatchLoss(run, m, activeTokensInStep);
    metrics = out.metrics;
    aux = out.aux;
    return out;
  }, slots, slot);
  return { ...g, metrics, aux };
}

/** The gradients of any micro-batch's loss written to its slot: the loss, which tensors it has, its routing. */
export function lossGradsToSlot(model: Transformer, params: Layout, lossFn: LossFn, slots: Float32Array, slot: number): Pick<GradReply, "loss" | "present" | "moe"> {
  const parts: Map<number, MoeStats>[] = [];
  const g = microBatchGrads(model, lossFn, parts);
  try {
    const base = slot * params.total;
    const present = params.names.map((name, p) => {
      const t = g.grads.get(name);
      if (t) slots.set(t.dataSync() as Float32Array, base + params.offsets[p]);
      return Boolean(t);
    });
    return { loss: g.loss, present, moe: [...parts[0].entries()] };
  } finally {
    tf.dispose([...g.grads.values()]);
  }
}
