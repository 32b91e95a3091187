import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { columnSum } from "../../trainer/model/layers.ts";
import { COLUMN_SUM, GELU, GELU_GRAD, LAYER_NORM, LAYER_NORM_GRAD, LINEAR } from "../../trainer/kernels/names.ts";
import { Rng } from "../../datasets/rng.ts";
import { naiveMatMul } from "../helpers.ts";

// these are the WebAssembly kernels' tests: keep the native add-on (native.test.ts) out of them
process.env.RLVR_NATIVE = "off";

beforeAll(async () => {
  await initBackend("wasm");
});

const rng = new Rng(3);
const randomArray = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

const CASES: [number, number, number, number, number, boolean, boolean][] = [
  // batchA, batchB, M, K, N, transposeA, transposeB — sizes straddle the 4x16 blocks
  [6, 6, 13, 7, 33, false, false],
  [6, 6, 16, 32, 16, false, true],
  [3, 3, 5, 9, 21, true, false],
  [2, 2, 17, 3, 18, true, true],
  [1, 4, 8, 8, 20, false, false],
  [4, 1, 9, 8, 17, false, true],
  [1, 1, 40, 24, 35, true, false],
  [1, 1, 24, 40, 19, false, true],
  // K beyond one 256-deep chunk of the blocked kernel: partial sums pass through the output
  [2, 2, 9, 300, 37, true, false],
  [1, 1, 6, 600, 20, false, true],
];

test("the wasm batched/transposed matMul kernel matches plain loops", () => {
  expect(CASES.length).toBeGreaterThan(0);
  for (const [bA, bB, M, K, N, tA, tB] of CASES) {
    const a = randomArray(bA * M * K);
    const b = randomArray(bB * K * N);
    const got = tf.tidy(() => {
      const ta = tf.tensor3d(a, tA ? [bA, K, M] : [bA, M, K]);
      const tb = tf.tensor3d(b, tB ? [bB, N, K] : [bB, K, N]);
      return tf.matMul(ta, tb, tA, tB);
    });
    const want = naiveMatMul(a, b, bA, bB, M, K, N, tA, tB);
    expect(got.shape).toEqual([Math.max(bA, bB), M, N]);
    const values = got.dataSync();
    got.dispose();
    values.forEach((v, i) => expect(Math.abs(v - want[i]), `case ${[bA, bB, M, K, N, tA, tB]} at ${i}`).toBeLessThan(1e-4));
  }
});

test("4-D attention-shaped products keep their outer dimensions", () => {
  const q = randomArray(2 * 3 * 5 * 4);
  const k = randomArray(2 * 3 * 5 * 4);
  const s = tf.tidy(() => tf.matMul(tf.tensor4d(q, [2, 3, 5, 4]), tf.tensor4d(k, [2, 3, 5, 4]), false, true));
  expect(s.shape).toEqual([2, 3, 5, 5]);
  const want = naiveMatMul(q, k, 6, 6, 5, 4, 5, false, true);
  Array.from(s.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  s.dispose();
});

test("row gather and scatter-add (tf.gather's gradient) give the exact values on wasm", () => {
  const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const idx = tf.tensor1d([2, 0, 2], "int32");
  expect(tf.gather(x, idx).arraySync()).toEqual([[5, 6], [1, 2], [5, 6]]);
  expect(tf.unsortedSegmentSum(x, tf.tensor1d([1, 1, 0], "int32"), 3).arraySync()).toEqual([[5, 6], [4, 6], [0, 0]]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), tf.tensor2d([[1, 1], [2, 2], [3, 3]]))))(x);
  expect(g.arraySync()).toEqual([[2, 2], [0, 0], [4, 4]]);
  expect(() => tf.gather(x, tf.tensor1d([3], "int32")).dataSync()).toThrow("gather: index 3 is outside [0, 3)");
  tf.dispose([x, idx, g]);
});

/** Whether two float arrays are equal bit for bit (toEqual treats -0 and 0 alike). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.every((v, i) => v === ub[i]);
}

test("the column-sum kernel gives the [1, N]·[N, d] product of ones bit for bit, and the plain sums", () => {
  expect(tf.getKernel(COLUMN_SUM, "wasm")).toBeDefined();
  for (const [N, d] of [[1, 1], [7, 5], [600, 37], [300, 128]]) {
    const y = randomArray(N * d);
    const [kernel, product] = tf.tidy(() => {
      const t = tf.tensor2d(y, [N, d]);
      return [columnSum(t).dataSync() as Float32Array, tf.matMul(tf.ones([1, N]), t).dataSync() as Float32Array];
    });
    expect(sameBits(kernel, product), `[${N}, ${d}]`).toBe(true);
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let r = 0; r < N; r++) s += y[r * d + j];
      expect(kernel[j]).toBeCloseTo(s, 3);
    }
  }
});

test("a transposed-A product (weight gradients) equals transposing first and XNNPACK's plain product, bit for bit", () => {
  for (const [N, din, dout] of [[300, 40, 70], [600, 17, 33], [64, 128, 16]]) {
    const x = randomArray(N * din);
    const dy = randomArray(N * dout);
    const [fused, explicit] = tf.tidy(() => {
      const tx = tf.tensor2d(x, [N, din]);
      const tdy = tf.tensor2d(dy, [N, dout]);
      return [tf.matMul(tx, tdy, true, false).dataSync() as Float32Array, tf.matMul(tf.transpose(tx), tdy).dataSync() as Float32Array];
    });
    expect(fused.length).toBe(din * dout);
    expect(sameBits(fused, explicit), `[${N}, ${din}]ᵀ·[${N}, ${dout}]`).toBe(true);
  }
});

/** Φ(x) in float64 by Simpson's rule on the normal density over [x − 16, x] (the mass below is < 1e-50 of it). */
function normalCdf(x: number): number {
  if (x > 0) return 1 - normalCdf(-x);
  const n = 4000;
  const a = x - 16;
  const h = (x - a) / n;
  const pdf = (t: number) => Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
  let s = pdf(a) + pdf(x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * pdf(a + i * h);
  return (s * h) / 3;
}

test("the GELU kernels give x·Φ(x) and dy·(Φ + x·φ) to float32 precision, far tails included", () => {
  expect(tf.getKernel(GELU, "wasm")).toBeDefined();
  // a grid through both tails and zero, plus a length that is not a multiple of 4 (the scalar tail)
  const xs = Float32Array.from([...Array.from({ length: 241 }, (_, i) => -12 + i * 0.1), 0, -1e-8, 3e-7, 1e-30]);
  const dys = Float32Array.from(xs, (_, i) => (i % 7) - 3);
  const [y, phi, dx] = tf.tidy(() => {
    const x = tf.tensor1d(xs);
    const [yt, pt] = tf.engine().runKernel(GELU, { x }) as unknown as tf.Tensor[];
    const g = tf.engine().runKernel(GELU_GRAD, { dy: tf.tensor1d(dys), x, phi: pt }) as tf.Tensor;
    return [yt.dataSync(), pt.dataSync(), g.dataSync()];
  });
  xs.forEach((x, i) => {
    const cdf = normalCdf(x);
    const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    // Φ to a few float32 ulps relative (absolute 1e-7 where Φ is near 1); x·Φ and the gradient alike
    expect(Math.abs(phi[i] - cdf), `Φ(${x})`).toBeLessThanOrEqual(Math.max(1e-6 * cdf, 1e-7));
    expect(Math.abs(y[i] - x * cdf), `gelu(${x})`).toBeLessThanOrEqual(Math.max(1e-6 * Math.abs(x * cdf), 1e-7 * Math.abs(x), 1e-38));
    const want = dys[i] * (cdf + x * pdf);
    expect(Math.abs(dx[i] - want), `gelu'(${x})`).toBeLessThanOrEqual(Math.max(2e-6 * Math.abs(want), 3e-7 * Math.abs(dys[i])));
  });
});

test("the LayerNorm kernels match a float64 forward and its finite differences (dx, dw, db)", () => {
  expect(tf.getKernel(LAYER_NORM, "wasm")).toBeDefined();
  const eps = 1e-5;
  for (const [N, d] of [[5, 8], [3, 13], [2, 128]]) {
    const x = Float64Array.from(randomArray(N * d), (v, i) => v * (1 + (i % 3)) + (i % 5));
    const w = Float64Array.from(randomArray(d), (v) => 1 + 0.3 * v);
    const b = Float64Array.from(randomArray(d));
    const c = Float64Array.from(randomArray(N * d)); // loss L = Σ c·y, so dy = c
    const forward = (xv: Float64Array, wv: Float64Array, bv: Float64Array) => {
      const y = new Float64Array(N * d);
      for (let r = 0; r < N; r++) {
        const row = xv.subarray(r * d, (r + 1) * d);
        const mean = row.reduce((s, v) => s + v, 0) / d;
        const inv = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / d + eps);
        for (let j = 0; j < d; j++) y[r * d + j] = (row[j] - mean) * inv * wv[j] + bv[j];
      }
      return y;
    };
    const loss = (xv: Float64Array, wv: Float64Array, bv: Float64Array) => forward(xv, wv, bv).reduce((s, v, i) => s + v * c[i], 0);
    const central = (which: Float64Array, i: number) => {
      const h = 1e-5;
      const keep = which[i];
      which[i] = keep + h;
      const up = loss(x, w, b);
      which[i] = keep - h;
      const down = loss(x, w, b);
      which[i] = keep;
      return (up - down) / (2 * h);
    };
    const [y, dx, dw, db] = tf.tidy(() => {
      const [yt, xh, inv] = tf.engine().runKernel(LAYER_NORM, { x: tf.tensor2d(Float32Array.from(x), [N, d]), w: tf.tensor1d(Float32Array.from(w)), b: tf.tensor1d(Float32Array.from(b)) }, { eps }) as unknown as tf.Tensor[];
      const grads = tf.engine().runKernel(LAYER_NORM_GRAD, { dy: tf.tensor2d(Float32Array.from(c), [N, d]), xhat: xh, inv, w: tf.tensor1d(Float32Array.from(w)) }) as unknown as tf.Tensor[];
      return [yt, ...grads].map((t) => t.dataSync());
    });
    const want = forward(x, w, b);
    y.forEach((v, i) => expect(Math.abs(v - want[i]), `y[${i}] of [${N}, ${d}]`).toBeLessThan(1e-5 * (1 + Math.abs(want[i]))));
    for (let i = 0; i < N * d; i += 3) expect(Math.abs(dx[i] - central(x, i)), `dx[${i}] of [${N}, ${d}]`).toBeLessThan(2e-4 * (1 + Math.abs(dx[i])));
    for (let j = 0; j < d; j++) {
      expect(Math.abs(dw[j] - central(w, j)), `dw[${j}]`).toBeLessThan(2e-4 * (1 + Math.abs(dw[j])));
      expect(Math.abs(db[j] - central(b, j)), `db[${j}]`).toBeLessThan(2e-4 * (1 + Math.abs(db[j])));
    }
  }
});

test("the linear kernel gives matMul then add, bit for bit", () => {
  for (const [N, din, dout] of [[1, 128, 512], [37, 13, 6], [300, 128, 128]]) {
    const [fused, twoCalls] = tf.tidy(() => {
      const x = tf.tensor2d(randomArray(N * din), [N, din]);
      const w = tf.tensor2d(randomArray(din * dout), [din, dout]);
      const b = tf.tensor1d(randomArray(dout));
      return [(tf.engine().runKernel(LINEAR, { x, w, b }) as tf.Tensor).dataSync() as Float32Array, tf.add(tf.matMul(x, w), b).dataSync() as Float32Array];
    });
    expect(fused.length).toBe(N * dout);
    expect(sameBits(fused, twoCalls), `[${N}, ${din}]·[${din}, ${dout}]`).toBe(true);
  }
});
