import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { lmTrainStep } from "../../trainer/update.ts";
import { KVCache, rotate, rotation, Transformer } from "../../trainer/model/transformer.ts";
import { AdamW, OptimizerConfig } from "../../trainer/optimizer.ts";
import { disposeBatch, randomBatch, tinyConfig } from "../helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

function lastLogits(model: Transformer, tokens: number[][], cache?: KVCache): number[][] {
  return tf.tidy(() => {
    const t = tf.tensor2d(tokens, undefined, "int32");
    const { hidden } = model.forward(t, { cache });
    const [B, T, d] = hidden.shape;
    const last = tf.reshape(tf.slice(hidden, [0, T - 1, 0], [B, 1, d]), [B, d]) as tf.Tensor2D;
    return model.logits(last).arraySync() as number[][];
  });
}

test.each(["learned", "rope"] as const)("KV-cache incremental decoding gives the same logits as full recomputation, token by token (%s positions)", (positions) => {
  const model = Transformer.init(tinyConfig({ positions }), 5);
  const seq = [[1, 5, 9, 2, 7, 3, 3, 8, 0, 12, 4, 6], [2, 2, 14, 1, 0, 9, 5, 5, 11, 7, 1, 13]];
  const prompt = 4;
  const cache = new KVCache(model.config.n_layers);
  const compared: number[] = [];
  let cached = lastLogits(model, seq.map((r) => r.slice(0, prompt)), cache); // prefill
  for (let t = prompt; t <= seq[0].length; t++) {
    const full = lastLogits(model, seq.map((r) => r.slice(0, t)));
    full.forEach((row, b) => row.forEach((v, j) => expect(cached[b][j]).toBeCloseTo(v, 4)));
    compared.push(t);
    if (t < seq[0].length) cached = lastLogits(model, seq.map((r) => [r[t]]), cache);
  }
  expect(compared.length).toBe(seq[0].length - prompt + 1);
  expect(cache.length).toBe(seq[0].length);
  cache.dispose();
  model.dispose();
});

test("a sequence longer than the context is refused with a clear error", () => {
  const model = Transformer.init(tinyConfig({ context_length: 8 }), 1);
  expect(() => lastLogits(model, [Array(9).fill(1)])).toThrow("sequence of 9 tokens exceeds the model's context_length 8");
  model.dispose();
});

test("tf.memory().numTensors is the same after step 5 and step 50 of training", () => {
  const model = Transformer.init(tinyConfig(), 2);
  const opt = new AdamW(model.params, OptimizerConfig.parse({ lr: 1e-3 }));
  const batch = randomBatch(2, 8, 16, 3);
  let after5 = -1;
  for (let step = 1; step <= 50; step++) {
    lmTrainStep(model, opt, batch, 1e-3);
    if (step === 5) after5 = tf.memory().numTensors;
  }
  expect(after5).toBeGreaterThan(0);
  expect(tf.memory().numTensors).toBe(after5);
  disposeBatch(batch);
  opt.dispose();
  model.dispose();
});

test("the same seed gives identical weights and losses across two runs", () => {
  const runOnce = () => {
    const model = Transformer.init(tinyConfig(), 42);
    const opt = new AdamW(model.params, OptimizerConfig.parse({ lr: 3e-3 }));
    const batch = randomBatch(2, 8, 16, 9);
    const losses = Array.from({ length: 5 }, () => lmTrainStep(model, opt, batch, 3e-3).loss);
    const weights = model.values();
    disposeBatch(batch);
    opt.dispose();
    model.dispose();
    return { losses, weights };
  };
  const a = runOnce();
  const b = runOnce();
  expect(b.losses).toEqual(a.losses);
  expect(a.weights.size).toBeGreaterThan(0);
  for (const [name, w] of a.weights) expect(Buffer.from(b.weights.get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
  // and a different seed gives a different model
  const other = Transformer.init(tinyConfig(), 43);
  expect(Array.from(other.values().get("tok_emb.weight")!.slice(0, 4))).not.toEqual(Array.from(a.weights.get("tok_emb.weight")!.slice(0, 4)));
  other.dispose();
});

test("a non-finite loss skips the update and leaves the weights untouched", () => {
  const model = Transformer.init(tinyConfig(), 2);
  const opt = new AdamW(model.params, OptimizerConfig.parse({ lr: 1e-3 }));
  const batch = randomBatch(2, 8, 16, 3);
  const before = model.values().get("layers.0.attn.q.weight")!;
  const w = model.params.get("tok_emb.weight")!;
  const saved = w.dataSync().slice();
  const poisoned = saved.slice();
  poisoned[0] = Number.NaN;
  w.assign(tf.tensor(poisoned, w.shape));
  const result = lmTrainStep(model, opt, batch, 1e-3);
  expect(result.skipped).toBe(true);
  expect(opt.t).toBe(0);
  expect(Array.from(model.values().get("layers.0.attn.q.weight")!)).toEqual(Array.from(before));
  disposeBatch(batch);
  opt.dispose();
  model.dispose();
});

test("rope: a rotation keeps norms, and q·k depends only on the distance between the two positions", () => {
  const dh = 8;
  const q = tf.tensor4d(Array.from({ length: dh }, (_, i) => Math.sin(i + 1)), [1, 1, 1, dh]);
  const k = tf.tensor4d(Array.from({ length: dh }, (_, i) => Math.cos(3 * i)), [1, 1, 1, dh]);
  const at = (x: tf.Tensor4D, pos: number) => {
    const r = rotation(undefined, 1, 1, pos, dh, 10000);
    const out = rotate(x, r).dataSync() as Float32Array;
    tf.dispose([r.cos, r.sin]);
    return Array.from(out);
  };
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  const qv = Array.from(q.dataSync()), kv = Array.from(k.dataSync());
  expect(dot(at(q, 7), at(q, 7))).toBeCloseTo(dot(qv, qv), 5);
  expect(dot(at(q, 9), at(k, 4))).toBeCloseTo(dot(at(q, 25), at(k, 20)), 4);
  expect(Math.abs(dot(at(q, 9), at(k, 4)) - dot(at(q, 9), at(k, 5)))).toBeGreaterThan(1e-3);
  // the first frequency pair (i = 0, θ⁰ = 1) turns by exactly `pos` radians: worked by hand
  const r = at(q, 2);
  expect(r[0]).toBeCloseTo(qv[0] * Math.cos(2) - qv[4] * Math.sin(2), 5);
  expect(r[4]).toBeCloseTo(qv[0] * Math.sin(2) + qv[4] * Math.cos(2), 5);
  tf.dispose([q, k]);
});

test("rope models have no position table and are refused with an odd head width", () => {
  const model = Transformer.init(tinyConfig({ positions: "rope" }), 1);
  expect(model.params.has("pos_emb.weight")).toBe(false);
  model.dispose();
  expect(() => tinyConfig({ positions: "rope", d_model: 6, n_heads: 2 })).toThrow(/rope needs an even head width/);
});

test.each(["learned", "rope"] as const)("a KV cache written in place gives bit-identical logits to one grown by concatenation, through padding and rows leaving (%s positions)", (positions) => {
  const model = Transformer.init(tinyConfig({ positions }), 6);
  const seq = [[1, 5, 9, 2, 7, 3, 3, 8, 0, 12], [2, 2, 14, 1, 0, 9, 5, 5, 11, 7], [4, 4, 4, 6, 1, 2, 3, 9, 9, 10]];
  const padding = [0, 2, 1];
  const run = (inPlace: boolean): number[][] => {
    // no capacity given: the in-place cache starts at the prompt's size and doubles as it fills
    let cache = new KVCache(model.config.n_layers, padding, 0, inPlace);
    let rows = [0, 1, 2];
    const out: number[][] = [];
    let logits = lastLogits(model, seq.map((r) => r.slice(0, 3)), cache);
    for (let t = 3; t < seq[0].length; t++) {
      out.push(...logits);
      if (t === 6) {
        cache = cache.keepRows([1, 2]); // row 0 (unpadded) leaves: the kept rows' shared padding column is trimmed
        rows = [1, 2];
      }
      logits = lastLogits(model, rows.map((b) => [seq[b][t]]), cache);
    }
    out.push(...logits);
    cache.dispose();
    return out;
  };
  run(true); // the model keeps the causal masks it makes: count tensors after they exist
  const before = tf.memory().numTensors;
  const inPlace = run(true);
  const concatenated = run(false);
  expect(inPlace.length).toBe(3 * 4 + 2 * 4);
  const bits = (rows: number[][]) => Array.from(new Uint32Array(Float32Array.from(rows.flat()).buffer));
  expect(bits(inPlace)).toEqual(bits(concatenated));
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});
