import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { MoeConfig } from "../../trainer/model/config.ts";
import { moeForward, moeOutput, updateSelectionBias, type MoeStats, type MoeWeights } from "../../trainer/model/moe.ts";
import { Rng } from "../../datasets/rng.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

// Hand-worked example: 4 tokens in d = 2, 2 experts, identity router, so the router logits are the
// tokens themselves: [1,0], [0,1], [1,1], [2,0].
const X = [[1, 0], [0, 1], [1, 1], [2, 0]];
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
// softmax of two logits: p0 = σ(h0 − h1)
const P0 = [sigmoid(1), sigmoid(-1), 0.5, sigmoid(2)];
const LSE = [Math.log(Math.E + 1), Math.log(Math.E + 1), Math.log(2 * Math.E), Math.log(Math.E ** 2 + 1)];

/** Expert e multiplies its input by (e + 1) through a ReLU-free path we can check by hand. */
function weights(): MoeWeights {
  // fc = I (d_ff 2), proj = (e+1)·I, zero biases: expert e maps x to (e+1)·gelu(x)
  const expert = (scale: number) => ({
    fcW: tf.tensor2d([[1, 0], [0, 1]]),
    fcB: tf.zeros([2]) as tf.Tensor1D,
    projW: tf.tensor2d([[scale, 0], [0, scale]]),
    projB: tf.zeros([2]) as tf.Tensor1D,
  });
  return { router: tf.tensor2d([[1, 0], [0, 1]]), experts: [expert(1), expert(2)] };
}
const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-5 checks; integrate exp(-t²) with Simpson's rule instead
  const n = 2000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

function run(cfg: Partial<MoeConfig>, bias: Float32Array | null = null, training = true) {
  let result: { y: number[][]; aux: number; stats: MoeStats } | undefined;
  tf.tidy(() => {
    const out = moeForward(tf.tensor2d(X), weights(), MoeConfig.parse({ num_experts: 2, d_ff: 2, ...cfg }), bias, training);
    result = { y: out.y.arraySync() as number[][], aux: out.aux.dataSync()[0], stats: out.stats };
  });
  return result!;
}

test("top-1 routing, gates, Switch loss and z-loss equal the hand-worked numbers", () => {
  const { y, aux, stats } = run({ top_k: 1, balance_coef: 0.01, z_loss_coef: 1e-3 });
  // token 2 ties (p = 0.5, 0.5): the lower index wins
  expect(Array.from(stats.chosen)).toEqual([0, 1, 0, 0]);
  expect(stats.counts).toEqual([3, 1]);
  expect(stats.load).toEqual([0.75, 0.25]);
  const meanP0 = P0.reduce((a, b) => a + b) / 4;
  const balance = 0.01 * 2 * (0.75 * meanP0 + 0.25 * (1 - meanP0));
  const zLoss = 1e-3 * (LSE.reduce((a, b) => a + b * b, 0) / 4);
  expect(stats.balanceLoss).toBeCloseTo(balance, 6);
  expect(stats.zLoss).toBeCloseTo(zLoss, 6);
  expect(aux).toBeCloseTo(balance + zLoss, 6);
  expect(stats.maxViolation).toBeCloseTo(0.75 / 0.5 - 1, 6);
  // top-1 renormalized gate is exactly 1: token 1 goes through expert 1 (scale 2), the rest expert 0
  const expected = X.map((row, n) => row.map((v) => (n === 1 ? 2 : 1) * gelu(v)));
  y.forEach((row, n) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[n][j], 5)));
});

test("top-2 of 2 experts: the gates are the router probabilities", () => {
  const { y, stats } = run({ top_k: 2 });
  expect(stats.load).toEqual([0.5, 0.5]);
  const expected = X.map((row, n) => row.map((v) => P0[n] * gelu(v) + (1 - P0[n]) * 2 * gelu(v)));
  y.forEach((row, n) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[n][j], 5)));
  const entropy = P0.reduce((s, p) => s - p * Math.log(p) - (1 - p) * Math.log(1 - p), 0) / 4;
  expect(stats.routerEntropy).toBeCloseTo(entropy, 5);
});

test("capacity drops the overflow, first come first served, and counts it", () => {
  // capacity = ceil(1 · 4 / 2 · 0.5) = 1: expert 0 keeps token 0, drops tokens 2 and 3
  const { y, stats } = run({ top_k: 1, capacity_factor: 0.5 });
  expect(stats.dropped).toBe(2);
  expect(stats.dropRate).toBe(0.5);
  expect(y[2]).toEqual([0, 0]);
  expect(y[3]).toEqual([0, 0]);
  expect(y[0][0]).toBeCloseTo(gelu(1), 5);
  // no capacity at inference
  expect(run({ top_k: 1, capacity_factor: 0.5 }, null, false).stats.dropped).toBe(0);
});

test("the aux-free bias changes the selection but not the gate values", () => {
  // bias 0.6 on expert 1 beats token 0's margin (0.731 − 0.269 = 0.462) but not token 3's (0.762)
  const bias = Float32Array.from([0, 0.6]);
  const biased = run({ top_k: 1, aux_free_bias: true }, bias);
  expect(Array.from(biased.stats.chosen)).toEqual([1, 1, 1, 0]);
  // top-1 gates stay exactly 1 (renormalized unbiased probabilities): token 0 now gets 2·gelu(x)
  expect(biased.y[0][0]).toBeCloseTo(2 * gelu(1), 5);
  // with top-2 the chosen set is both experts either way, and the gates are the unbiased probs
  const top2 = run({ top_k: 2, aux_free_bias: true }, bias);
  const plain = run({ top_k: 2 });
  top2.y.forEach((row, n) => row.forEach((v, j) => expect(v).toBeCloseTo(plain.y[n][j], 6)));
  // the balance loss still uses unbiased router probabilities and the biased routing counts
  expect(biased.stats.counts).toEqual([1, 3]);
});

test("the bias update nudges under-loaded experts up and over-loaded ones down by γ", () => {
  const bias = new Float32Array(3);
  updateSelectionBias(bias, [6, 1, 2], 0.001);
  expect(Array.from(bias)).toEqual([-0.001, 0.001, 0.001].map(Math.fround));
});

test("gradients reach the router through the gates only: with top-1 and no aux losses the router gets none", () => {
  const w = weights();
  const router = tf.variable(w.router);
  const cfg = MoeConfig.parse({ num_experts: 2, d_ff: 2, top_k: 1, balance_coef: 0, z_loss_coef: 0 });
  const g = tf.grad((r: tf.Tensor) => tf.sum(moeForward(tf.tensor2d(X), { ...w, router: r as tf.Tensor2D }, cfg, null, true).y))(router);
  // a top-1 gate is p/p = 1 whatever the router says, so its derivative is exactly zero
  expect(Math.max(...Array.from(g.dataSync()).map(Math.abs))).toBeLessThan(1e-6);
  const cfg2 = MoeConfig.parse({ num_experts: 2, d_ff: 2, top_k: 2, balance_coef: 0, z_loss_coef: 0 });
  const g2 = tf.grad((r: tf.Tensor) => tf.sum(moeForward(tf.tensor2d(X), { ...w, router: r as tf.Tensor2D }, cfg2, null, true).y))(router);
  expect(Math.max(...Array.from(g2.dataSync()).map(Math.abs))).toBeGreaterThan(1e-3);
});

test("moeOutput (decoding's MoE, no aux losses or stats) gives moeForward's y bit for bit", () => {
  const rng = new Rng(11);
  const N = 9, d = 6, E = 4;
  const cfg = MoeConfig.parse({ num_experts: E, top_k: 2, d_ff: 5, shared_expert: true, aux_free_bias: true });
  const rand = (...shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  const ffnW = () => ({ fcW: rand(d, 5) as tf.Tensor2D, fcB: rand(5) as tf.Tensor1D, projW: rand(5, d) as tf.Tensor2D, projB: rand(d) as tf.Tensor1D });
  const w: MoeWeights = { router: rand(d, E) as tf.Tensor2D, experts: Array.from({ length: E }, ffnW), shared: ffnW() };
  const x = rand(N, d) as tf.Tensor2D;
  const bias = Float32Array.from([0.01, -0.02, 0, 0.03]);
  const before = tf.memory().numTensors;
  const [full, lean] = tf.tidy(() => [
    moeForward(x, w, cfg, bias, false).y.dataSync() as Float32Array,
    moeOutput(x, w, cfg, bias, false).y.dataSync() as Float32Array,
  ]);
  expect(tf.memory().numTensors).toBe(before);
  expect(full.length).toBe(N * d);
  expect(Array.from(new Uint32Array(lean.buffer))).toEqual(Array.from(new Uint32Array(full.buffer)));
  tf.dispose([x, w.router, ...[...w.experts, w.shared!].flatMap((f) => [f.fcW, f.fcB, f.projW, f.projB])]);
});
