/**
 * A supervised (pretraining) step across the ranks of a WorkerPool, as data-parallel.ts does a
 * GRPO update: the batch's micro-batches are dealt out in contiguous runs, each rank writes each of
 * its micro-batches' gradients to that micro-batch's slot of shared memory, rank 0 sums the slots in
 * micro-batch order (what lmTrainStepMicro adds in one process), applies the one AdamW step, and
 * the replicas load the new weights. So the step does not depend on how many ranks computed it.
 */
import * as tf from "@tensorflow/tfjs";
import type { LmArrays } from "../lm.ts";
import type { MoeStats } from "../model/moe.ts";
import type { Transformer } from "../model/transformer.ts";
import type { AdamW } from "../optimizer.ts";
import { applyGradients, lmMicroBatches, lmMicroLoss, type LmStepResult } from "../update.ts";
import { chunks, sumSlots, type Layout } from "./allreduce.ts";
import { gather, lossGradsToSlot } from "./data-parallel.ts";
import type { LmGradReply, LmMicro } from "./protocol.ts";
import type { WorkerPool } from "./workers.ts";

export async function lmTrainStepSharded(pool: WorkerPool, model: Transformer, optimizer: AdamW, batch: LmArrays[], lr: number, labelSmoothing: number): Promise<LmStepResult> {
  const micro = lmMicroBatches(batch);
  const owners = chunks(micro.length, pool.size);
  const slots = pool.gradSlots(micro.length);
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => a + k);
  const remote = gather(owners.slice(1).map(([a, b], i) =>
    pool.request(i + 1, { type: "lm-grads", micro: micro.slice(a, b), labelSmoothing, slots: range(a, b), grads: slots })));
  const local: LmGradReply[] = [];
  try {
    for (const k of range(...owners[0])) local.push(lmGradsToSlot(model, pool.params, micro[k], labelSmoothing, slots, k));
  } catch (e) {
    await remote.settled;
    throw e;
  }
  const replies = [local, ...(await remote.all)].flat();
  // loss and NLL added in micro-batch order, as in one process
  let loss = 0;
  let nll = 0;
  for (const r of replies) {
    loss += r.loss;
    nll += r.nll;
  }
  const summed = sumSlots(pool.params, slots, replies.map((r) => r.present));
  const grads = new Map([...summed].map(([name, data]) => [name, tf.tensor(data, model.params.get(name)!.shape, "float32")]));
  try {
    const step = applyGradients(model, optimizer, lr, grads, loss, replies.map((r) => new Map<number, MoeStats>(r.moe)));
    await pool.sync(model);
    return { ...step, nll };
  } finally {
    tf.dispose([...grads.values()]);
  }
}

/** One supervised micro-batch's gradients into its slot (any rank). */
export function lmGradsToSlot(model: Transformer, params: Layout, m: LmMicro, labelSmoothing: number, slots: Float32Array, slot: number): LmGradReply {
  let nll = 0;
  const g = lossGradsToSlot(model, params, () => {
    const out = lmMicroLoss(model, m, labelSmoothing);
    nll = out.nll.dataSync()[0];
    return out;
  }, slots, slot);
  return { ...g, nll };
}
