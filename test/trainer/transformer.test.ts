import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { lmTrainStep } from "../../trainer/lm.ts";
import { KVCache, Transformer } from "../../trainer/model/transformer.ts";
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

test("KV-cache incremental decoding gives the same logits as full recomputation, token by token", () => {
  const model = Transformer.init(tinyConfig(), 5);
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
