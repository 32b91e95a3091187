/**
 * Language-model losses on the transformer: per-token log-probabilities of given targets (with the
 * token entropy), and the supervised next-token loss with a mask. The update (trainer/update.ts),
 * the GRPO loss and the benchmark build on these.
 */
import * as tf from "@tensorflow/tfjs";
import type { MoeStats } from "./model/moe.ts";
import type { Transformer } from "./model/transformer.ts";

/** Log-probability of each target token: log-probabilities [N, V], targets [N] int32 → [N]. */
function pickTargets(logp: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  // a one-hot product, not tf.gather: one fewer scatter kernel in the backward pass on every backend
  return tf.sum(tf.mul(logp, tf.oneHot(targets, logp.shape[1])), -1) as tf.Tensor1D;
}

/** A supervised batch: predict targets[b, j] from tokens[b, ≤ start+j] for j < targets width. */
export interface LmBatch {
  /** Input tokens [B, T] int32. */
  tokens: tf.Tensor2D;
  /** Next-token targets for positions start..T-1: [B, T - start] int32. */
  targets: tf.Tensor2D;
  /** 1 where the target counts, 0 for padding or prompt tokens: [B, T - start]. */
  mask: tf.Tensor2D;
  /** First position whose prediction is scored (the LM head runs only from here on). */
  start: number;
  /** Left-padding per row (prompts of different lengths aligned on their end); masked as keys. */
  padding?: number[];
}

/** A supervised batch as plain arrays (what crosses to a worker thread): [rows, width] row-major. */
export interface LmArrays {
  tokens: Int32Array;
  targets: Int32Array;
  mask: Float32Array;
  rows: number;
  width: number;
}

/** The arrays as the tensors of an LmBatch (the caller disposes them). */
export function lmBatchOf(a: LmArrays): LmBatch {
  const shape: [number, number] = [a.rows, a.width];
  return { tokens: tf.tensor2d(a.tokens, shape, "int32"), targets: tf.tensor2d(a.targets, shape, "int32"), mask: tf.tensor2d(a.mask, shape), start: 0 };
}

/**
 * Per-token log-probs of the batch's targets [B, T - start] and the MoE aux loss; the head is
 * applied only to the scored positions, which is where most of its FLOPs would go.
 */
export function batchLogProbs(
  model: Transformer, batch: LmBatch, training: boolean, options: { entropy?: boolean; meanLogp?: boolean } = {},
): { logp: tf.Tensor2D; aux: tf.Scalar; moe: Map<number, MoeStats>; entropy?: tf.Tensor2D; meanLogp?: tf.Tensor2D } {
  const [B, T] = batch.tokens.shape;
  const S = T - batch.start;
  const { hidden, aux, moe } = model.forward(batch.tokens, { training, padding: batch.padding });
  const scored = tf.reshape(tf.slice(hidden, [0, batch.start, 0], [B, S, model.config.d_model]), [B * S, model.config.d_model]) as tf.Tensor2D;
  // one log-softmax serves the targets, the entropy and the label-smoothing term
  const all = tf.logSoftmax(model.logits(scored)) as tf.Tensor2D;
  const logp = tf.reshape(pickTargets(all, tf.reshape(batch.targets, [B * S]) as tf.Tensor1D), [B, S]) as tf.Tensor2D;
  const entropy = options.entropy ? tf.reshape(entropyOf(all), [B, S]) as tf.Tensor2D : undefined;
  // the uniform part of a label-smoothed target: the mean log-probability over the vocabulary
  const meanLogp = options.meanLogp ? tf.reshape(tf.mean(all, -1), [B, S]) as tf.Tensor2D : undefined;
  return { logp, aux, moe, entropy, meanLogp };
}

/** Entropy of the next-token distribution, in nats: log-probabilities [N, V] → [N]. */
function entropyOf(logp: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor1D;
}

/**
 * Mean masked negative log-likelihood plus the MoE aux losses. With label smoothing ε the target is
 * (1 − ε)·one-hot + ε·uniform over the vocabulary, PyTorch's `CrossEntropyLoss(label_smoothing=ε)`:
 * the loss is (1 − ε)·NLL + ε·(−mean log-probability). `nll` stays the plain NLL, for logging.
 * For one micro-batch of a larger step, `step` gives the step's scored tokens (the mean's
 * denominator) and this micro-batch's share of the aux loss, so the micro-batches' losses add up to
 * the step's.
 */
export function lmLoss(
  model: Transformer, batch: LmBatch, training = true, labelSmoothing = 0, step?: { tokens: number; auxShare: number },
): { loss: tf.Scalar; nll: tf.Scalar; moe: Map<number, MoeStats> } {
  const { logp, aux, moe, meanLogp } = batchLogProbs(model, batch, training, { meanLogp: labelSmoothing > 0 });
  const tokens = step ? tf.scalar(Math.max(step.tokens, 1)) : tf.maximum(tf.sum(batch.mask), 1);
  const maskedMean = (x: tf.Tensor2D) => tf.neg(tf.div(tf.sum(tf.mul(x, batch.mask)), tokens)) as tf.Scalar;
  const nll = maskedMean(logp);
  const fit = meanLogp ? tf.add(tf.mul(nll, 1 - labelSmoothing), tf.mul(maskedMean(meanLogp), labelSmoothing)) : nll;
  return { loss: tf.add(fit, step ? tf.mul(aux, step.auxShare) : aux) as tf.Scalar, nll, moe };
}
