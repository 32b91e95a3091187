/**
 * A supervised (pretraining) step across the ranks of a WorkerPool, as data-parallel.ts does a
 * GRPO update: the batch's micro-batches are dealt out in contiguous runs, each rank writes each of
 * its micro-batches' gradients to that micro-batch's slot of shared memory, rank 0 sums the slots in
 * micro-batch order (what lmTrainStepMicro adds in one process), applies the one AdamW step, and
 * the replicas load the new weights. So the step does not depend on how many ranks computed it.
 */
import type { LmArrays } from "../lm.ts";
import type { Transformer } from "../model/transformer.ts";
import type { AdamW } from "../optimizer.ts";
import { lmMicroBatches, lmMicroLoss, type LmStepResult } from "../update.ts";
import { chunks, indices, type Layout } from "./allreduce.ts";
import { acrossRanks, applySlots, lossGradsToSlot } from "./data-parallel.ts";
import type { LmGradReply, LmMicro } from "./protocol.ts";
import type { WorkerPool } from "./workers.ts";

export async function lmTrainStepSharded(pool: WorkerPool, model: Transformer, optimizer: AdamW, batch: LmArrays[], lr: number, labelSmoothing: number): Promise<LmStepResult> {
  const micro = lmMicroBatches(batch);
  const owners = chunks(micro.length, pool.size);
  const slots = pool.gradSlots(micro.length);
  const replies = (await acrossRanks(owners.slice(1).map(([a, b], i) =>
    pool.request(i + 1, { type: "lm-grads", micro: micro.slice(a, b), labelSmoothing, slots: indices(a, b), grads: slots })),
  () => indices(...owners[0]).map((k) => lmGradsToSlot(model, pool.params, micro[k], labelSmoothing, slots, k)))).flat();
  // loss and NLL added in micro-batch order, as in one process
  let loss = 0;
  let nll = 0;
  for (const r of replies) {
    loss += r.loss;
    nll += r.nll;
  }
  const step = applySlots(pool, model, optimizer, lr, slots, replies, loss);
  await pool.sync(model);
  return { ...step, nll };
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
