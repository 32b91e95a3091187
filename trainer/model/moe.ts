/**
 * Mixture-of-experts FFN: softmax router, top-k routing with gates renormalized over the chosen
 * experts, training-time capacity with dropped-token counting, Switch load-balancing loss, router
 * z-loss, DeepSeek-V3 auxiliary-loss-free selection bias, optional shared expert, load metrics.
 * Selection (top-k, capacity) runs on the host from the router probabilities: tfjs has no gradient
 * for top-k or comparisons, so gradients reach the router only through the gate values and the aux
 * losses. Tokens are dispatched sparsely (gather → expert → gated scatter-add), so each expert
 * computes only its routed tokens.
 */
import * as tf from "@tensorflow/tfjs";
import type { MoeConfig } from "./config.ts";
import { ffn, matmulPlain, scatterAddRows, type FfnWeights } from "./layers.ts";

export interface MoeWeights {
  router: tf.Tensor2D; // [d, E], no bias
  experts: FfnWeights[];
  shared?: FfnWeights;
}

/** Plain-number routing statistics of one forward pass of one MoE layer. */
export interface MoeStats {
  /** Assignments routed to each expert before capacity drops (length E). */
  counts: number[];
  /** Share of the N·k assignments routed to each expert (f_i of the Switch loss). */
  load: number[];
  /** max_i(load_i) / mean(load) − 1: 0 is perfect balance. */
  maxViolation: number;
  /** Mean over tokens of the router distribution's entropy, in nats. */
  routerEntropy: number;
  /** Assignments dropped by the capacity limit. */
  dropped: number;
  /** dropped / (N·k). */
  dropRate: number;
  /** Chosen experts per token before drops, flattened [N·k] (best first): the routing decision itself. */
  chosen: Int32Array;
  /** Switch balance loss and z-loss values (already multiplied by their coefficients). */
  balanceLoss: number;
  zLoss: number;
}

/** The host-side routing decision for N tokens. */
export interface Routing {
  /** Chosen experts per token before drops, best first: [N][k]. */
  chosen: number[][];
  /** Token indices each expert processes after capacity drops. */
  kept: number[][];
  counts: number[];
  dropped: number;
}

/**
 * Top-k selection on probs + selection bias, then capacity: first choices claim slots before second
 * choices, in token order (GShard's priority), so a capacity limit drops the least important first.
 */
export function route(probs: Float32Array, N: number, E: number, k: number, bias: Float32Array | null, capacity: number): Routing {
  const chosen: number[][] = [];
  const counts = new Array<number>(E).fill(0);
  const scores = new Float32Array(E);
  for (let n = 0; n < N; n++) {
    for (let e = 0; e < E; e++) scores[e] = probs[n * E + e] + (bias ? bias[e] : 0);
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => scores[b] - scores[a] || a - b);
    const top = order.slice(0, k);
    chosen.push(top);
    for (const e of top) counts[e]++;
  }
  const kept: number[][] = Array.from({ length: E }, () => []);
  let dropped = 0;
  for (let rank = 0; rank < k; rank++) {
    for (let n = 0; n < N; n++) {
      const e = chosen[n][rank];
      if (kept[e].length < capacity) kept[e].push(n);
      else dropped++;
    }
  }
  return { chosen, kept, counts, dropped };
}

/** Capacity per expert for N tokens: ceil(k·N/E·factor), or unlimited. */
export function expertCapacity(N: number, cfg: MoeConfig, training: boolean): number {
  if (!training || cfg.capacity_factor === null) return Number.POSITIVE_INFINITY;
  return Math.ceil((cfg.top_k * N / cfg.num_experts) * cfg.capacity_factor);
}

/**
 * MoE FFN on x [N, d] → { y [N, d], aux (scalar: balance + z-loss), stats }.
 * Must run inside the caller's tf.tidy (it reads the router probabilities synchronously).
 */
export function moeForward(
  x: tf.Tensor2D,
  w: MoeWeights,
  cfg: MoeConfig,
  selectionBias: Float32Array | null,
  training: boolean,
): { y: tf.Tensor2D; aux: tf.Scalar; stats: MoeStats } {
  const [N] = x.shape;
  const E = cfg.num_experts;
  const k = cfg.top_k;
  const { y, logits, probs, p, routing } = moeOutput(x, w, cfg, selectionBias, training);
  const load = routing.counts.map((c) => c / (N * k));
  const balance = tf.mul(cfg.balance_coef * E, tf.sum(tf.mul(tf.tensor1d(load), tf.mean(probs, 0))));
  const zLoss = tf.mul(cfg.z_loss_coef, tf.mean(tf.square(tf.logSumExp(logits, 1))));
  const aux = tf.add(balance, zLoss) as tf.Scalar;
  const stats = routingStats(p, N, E, routing, load, balance.dataSync()[0], zLoss.dataSync()[0]);
  return { y, aux, stats };
}

/**
 * The MoE FFN's output alone, without the aux losses and routing statistics (decoding wants only
 * y: skipping them saves a dozen ops and two host reads per layer and token). Same y as moeForward.
 */
export function moeOutput(
  x: tf.Tensor2D,
  w: MoeWeights,
  cfg: MoeConfig,
  selectionBias: Float32Array | null,
  training: boolean,
): { y: tf.Tensor2D; logits: tf.Tensor2D; probs: tf.Tensor2D; p: Float32Array; routing: Routing } {
  const [N] = x.shape;
  const E = cfg.num_experts;
  const k = cfg.top_k;
  const logits = matmulPlain(x, w.router); // [N, E]
  const probs = tf.softmax(logits) as tf.Tensor2D; // [N, E]
  const p = probs.dataSync() as Float32Array;
  const routing = route(p, N, E, k, cfg.aux_free_bias ? selectionBias : null, expertCapacity(N, cfg, training));

  const gates = renormalizedGates(probs, routing.chosen, N, E); // [N, E], zero off the chosen experts
  const gatesFlat = tf.reshape(gates, [N * E]);
  // one scatter-add per expert, summed: concatenating the parts first costs a slow split in backward
  const parts: tf.Tensor2D[] = [];
  routing.kept.forEach((tokens, e) => {
    if (tokens.length === 0) return;
    const idx = tf.tensor1d(tokens, "int32");
    const out = ffn(tf.gather(x, idx) as tf.Tensor2D, w.experts[e]); // [n_e, d]
    const gate = tf.gather(gatesFlat, tf.tensor1d(tokens.map((t) => t * E + e), "int32")); // [n_e]
    parts.push(scatterAddRows(tf.mul(out, tf.reshape(gate, [tokens.length, 1])) as tf.Tensor2D, tokens, N));
  });
  let y: tf.Tensor2D = parts.length ? (tf.addN(parts) as tf.Tensor2D) : tf.zerosLike(x);
  if (w.shared) y = tf.add(y, ffn(x, w.shared));
  return { y, logits, probs, p, routing };
}

/** probs [N, E] → gates [N, E]: probs on the chosen experts divided by their sum, zero elsewhere. */
function renormalizedGates(probs: tf.Tensor2D, chosen: number[][], N: number, E: number): tf.Tensor2D {
  const mask = new Float32Array(N * E);
  chosen.forEach((experts, n) => experts.forEach((e) => (mask[n * E + e] = 1)));
  const picked = tf.mul(probs, tf.tensor2d(mask, [N, E]));
  return tf.div(picked, tf.sum(picked, 1, true)) as tf.Tensor2D;
}

function routingStats(p: Float32Array, N: number, E: number, r: Routing, load: number[], balanceLoss: number, zLoss: number): MoeStats {
  const meanLoad = 1 / E;
  let entropy = 0;
  for (let i = 0; i < N * E; i++) if (p[i] > 0) entropy -= p[i] * Math.log(p[i]);
  const assignments = load.length ? r.chosen.reduce((s, c) => s + c.length, 0) : 0;
  return {
    counts: r.counts,
    load,
    chosen: Int32Array.from(r.chosen.flat()),
    maxViolation: Math.max(...load) / meanLoad - 1,
    routerEntropy: N ? entropy / N : 0,
    dropped: r.dropped,
    dropRate: assignments ? r.dropped / assignments : 0,
    balanceLoss,
    zLoss,
  };
}

/**
 * DeepSeek-V3 bias update after an optimizer step: under-loaded experts' bias rises by γ and
 * over-loaded ones' falls by γ (sign of mean load minus load), so selection drifts toward balance.
 */
export function updateSelectionBias(bias: Float32Array, counts: number[], rate: number): void {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  counts.forEach((c, e) => (bias[e] += rate * Math.sign(mean - c)));
}

/**
 * One layer's routing stats over several micro-batches of a step, as if routed together: counts
 * and drops add up, load is recomputed from the counts, router entropy is token-weighted (every
 * part has N·k chosen entries with the same k), and so are the aux-loss values.
 */
export function mergeMoeStats(parts: MoeStats[]): MoeStats {
  if (parts.length === 1) return parts[0];
  const E = parts[0].counts.length;
  const counts = Array.from({ length: E }, (_, e) => parts.reduce((s, p) => s + p.counts[e], 0));
  const assignments = counts.reduce((a, b) => a + b, 0);
  const load = counts.map((c) => (assignments ? c / assignments : 0));
  const weight = parts.reduce((s, p) => s + p.chosen.length, 0);
  const dropped = parts.reduce((s, p) => s + p.dropped, 0);
  return {
    counts,
    load,
    chosen: Int32Array.from(parts.flatMap((p) => Array.from(p.chosen))),
    maxViolation: assignments ? Math.max(...load) * E - 1 : 0,
    routerEntropy: weight ? parts.reduce((s, p) => s + p.routerEntropy * p.chosen.length, 0) / weight : 0,
    dropped,
    dropRate: assignments ? dropped / assignments : 0,
    balanceLoss: weight ? parts.reduce((s, p) => s + p.balanceLoss * p.chosen.length, 0) / weight : 0,
    zLoss: weight ? parts.reduce((s, p) => s + p.zLoss * p.chosen.length, 0) / weight : 0,
  };
}
