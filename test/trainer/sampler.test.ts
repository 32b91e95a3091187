import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../datasets/rng.ts";
import { drawToken, promptTokens, SamplerConfig, sampleGroups } from "../../trainer/sampler.ts";
import { tinyConfig } from "../helpers.ts";

const tok = new ByteTokenizer();
const config = (extra: Record<string, unknown> = {}) => tinyConfig({ vocab_size: 259, context_length: 48, ...extra });
const sampler = (o: Record<string, unknown>) => SamplerConfig.parse({ num_generations: 2, max_new_tokens: 10, ...o });
const PROMPTS = ["1+2=", "a longer prompt:", "x"];

beforeAll(async () => {
  await initBackend("wasm");
});

/** Makes every position's hidden state point at one token's embedding, so greedy always emits it. */
function forceToken(model: Transformer, token: number): void {
  const emb = model.params.get("tok_emb.weight")!;
  const row = tf.tidy(() => tf.mul(tf.slice(emb, [token, 0], [1, emb.shape[1]!]).reshape([-1]), 100));
  model.params.get("ln_f.weight")!.assign(tf.zeros([model.config.d_model]));
  model.params.get("ln_f.bias")!.assign(row);
  row.dispose();
}

test.each(["learned", "rope"] as const)("batched sampling equals one-at-a-time sampling, greedy and seeded, with prompts of different lengths (%s positions)", async (positions) => {
  const model = Transformer.init(config({ positions }), 3);
  for (const temperature of [0, 1]) {
    const batched = await sampleGroups(model, tok, PROMPTS, sampler({ temperature }), 9);
    expect(batched.map((c) => [c.group, c.sample])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]]);
    for (let i = 0; i < PROMPTS.length; i++) {
      const alone = await sampleGroups(model, tok, [PROMPTS[i]], sampler({ temperature }), 9, i);
      expect(alone.map((c) => c.tokens)).toEqual(batched.filter((c) => c.group === i).map((c) => c.tokens));
    }
  }
  model.dispose();
});

test.each(["learned", "rope"] as const)("rows that finish early leave the batch and its cache: the rest sample as they would alone, with log-probs of a full forward pass (%s positions)", async (positions) => {
  const model = Transformer.init(config({ positions }), 11);
  // Stopping on any of 12 bytes ends near-uniform samples at scattered steps, and leaves some to run to the limit.
  const stop = Array.from("abcdefghijkl");
  const cfg = sampler({ num_generations: 4, max_new_tokens: 16, stop });
  const batched = await sampleGroups(model, tok, PROMPTS, cfg, 5);
  const lengths = new Set(batched.map((c) => c.tokens.length));
  expect(lengths.size).toBeGreaterThan(3);
  expect(batched.some((c) => c.truncated)).toBe(true);
  for (let i = 0; i < PROMPTS.length; i++) {
    const alone = await sampleGroups(model, tok, [PROMPTS[i]], cfg, 5, i);
    expect(alone.map((c) => c.tokens)).toEqual(batched.filter((c) => c.group === i).map((c) => c.tokens));
  }
  const recomputed = await sampleGroups(model, tok, PROMPTS, { ...cfg, kv_cache: false }, 5);
  expect(recomputed.map((c) => c.tokens)).toEqual(batched.map((c) => c.tokens));
  for (const c of batched) {
    const ids = [...promptTokens(tok, PROMPTS[c.group]), ...c.tokens];
    const logp = tf.tidy(() => {
      const { hidden } = model.forward(tf.tensor2d([ids], undefined, "int32"));
      return tf.logSoftmax(model.logits(tf.reshape(hidden, [ids.length, model.config.d_model]) as tf.Tensor2D));
    });
    const table = logp.arraySync() as number[][];
    logp.dispose();
    const start = ids.length - c.tokens.length;
    c.tokens.forEach((t, j) => expect(c.logprobs[j]).toBeCloseTo(table[start + j - 1][t], 4));
  }
  model.dispose();
});

test("the same seed gives the same completions; another seed other ones", async () => {
  const model = Transformer.init(config(), 4);
  const a = await sampleGroups(model, tok, PROMPTS, sampler({}), 1);
  const b = await sampleGroups(model, tok, PROMPTS, sampler({}), 1);
  const c = await sampleGroups(model, tok, PROMPTS, sampler({}), 2);
  expect(b.map((x) => x.tokens)).toEqual(a.map((x) => x.tokens));
  expect(c.map((x) => x.tokens)).not.toEqual(a.map((x) => x.tokens));
  model.dispose();
});

test("returned log-probs equal log-softmax of a full forward pass over prompt + completion (temperature 1)", async () => {
  const model = Transformer.init(config(), 5);
  const completions = await sampleGroups(model, tok, PROMPTS, sampler({ max_new_tokens: 8 }), 3);
  expect(completions.length).toBe(6);
  for (const c of completions) {
    const ids = [...promptTokens(tok, PROMPTS[c.group]), ...c.tokens];
    const logp = tf.tidy(() => {
      const { hidden } = model.forward(tf.tensor2d([ids], undefined, "int32"));
      return tf.logSoftmax(model.logits(tf.reshape(hidden, [ids.length, model.config.d_model]) as tf.Tensor2D));
    });
    const table = logp.arraySync() as number[][];
    logp.dispose();
    const start = ids.length - c.tokens.length;
    c.tokens.forEach((t, j) => expect(c.logprobs[j]).toBeCloseTo(table[start + j - 1][t], 4));
  }
  model.dispose();
});

test("without the KV cache (full recomputation) greedy decoding gives the same tokens", async () => {
  const model = Transformer.init(config(), 6);
  const cached = await sampleGroups(model, tok, PROMPTS, sampler({ temperature: 0, num_generations: 1 }), 0);
  const recomputed = await sampleGroups(model, tok, PROMPTS, sampler({ temperature: 0, num_generations: 1, kv_cache: false }), 0);
  expect(recomputed.map((c) => c.tokens)).toEqual(cached.map((c) => c.tokens));
  model.dispose();
});

test("<eos> ends a completion; the budget running out marks it truncated", async () => {
  const model = Transformer.init(config(), 7);
  forceToken(model, tok.eos);
  const [eos] = await sampleGroups(model, tok, ["q"], sampler({ temperature: 0, num_generations: 1 }), 0);
  expect(eos).toMatchObject({ tokens: [tok.eos], text: "", truncated: false, finishReason: "eos" });
  forceToken(model, "y".charCodeAt(0));
  const [long] = await sampleGroups(model, tok, ["q"], sampler({ temperature: 0, num_generations: 1, max_new_tokens: 5 }), 0);
  expect(long).toMatchObject({ text: "yyyyy", truncated: true, finishReason: "length" });
  model.dispose();
});

test("a stop string ends the completion and is cut from the text", async () => {
  const model = Transformer.init(config(), 8);
  forceToken(model, "z".charCodeAt(0));
  const [c] = await sampleGroups(model, tok, ["q"], sampler({ temperature: 0, num_generations: 1, stop: ["zz"] }), 0);
  expect(c).toMatchObject({ text: "", truncated: false, finishReason: "stop" });
  expect(c.tokens.length).toBe(2);
  model.dispose();
});

test("sampling leaves no tensors behind", async () => {
  const model = Transformer.init(config(), 9);
  // burn-in: the model caches one causal mask per (length, offset) shape it has seen
  await sampleGroups(model, tok, PROMPTS, sampler({}), 1);
  await sampleGroups(model, tok, PROMPTS, sampler({ kv_cache: false }), 1);
  const before = tf.memory().numTensors;
  await sampleGroups(model, tok, PROMPTS, sampler({}), 2);
  await sampleGroups(model, tok, PROMPTS, sampler({ kv_cache: false }), 2);
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});

test("drawToken follows the softmax; top-k and top-p cut the support and renormalize", () => {
  const logits = Float32Array.from([2, 1, 0, -1]);
  const p = Array.from(logits).map(Math.exp);
  const z = p.reduce((a, b) => a + b, 0);
  const rng = new Rng(1);
  const n = 20000;
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) counts[drawToken(logits, { temperature: 1, top_k: 0, top_p: 1 }, rng).token]++;
  counts.forEach((c, v) => expect(Math.abs(c / n - p[v] / z)).toBeLessThan(0.015));
  // top-k 2: only tokens 0 and 1, probabilities renormalized over them
  const k2 = drawToken(logits, { temperature: 1, top_k: 2, top_p: 1 }, new Rng(2));
  expect([0, 1]).toContain(k2.token);
  expect(k2.logprob).toBeCloseTo(Math.log(p[k2.token] / (p[0] + p[1])), 5);
  // top-p 0.5: token 0 alone holds 64% of the mass, so it is always drawn with log-prob 0
  for (let i = 0; i < 20; i++) expect(drawToken(logits, { temperature: 1, top_k: 0, top_p: 0.5 }, rng)).toEqual({ token: 0, logprob: 0 });
  // temperature 0.5 sharpens: log-prob of token 0 is 2·2 − logsumexp(2·logits)
  const t = drawToken(logits, { temperature: 0.5, top_k: 0, top_p: 1 }, new Rng(3));
  const lse = Math.log(Array.from(logits).reduce((a, l) => a + Math.exp(2 * l), 0));
  expect(t.logprob).toBeCloseTo(2 * logits[t.token] - lse, 5);
});

test("a prompt that leaves no room in the context is refused", async () => {
  const model = Transformer.init(config(), 1);
  await expect(sampleGroups(model, tok, ["x".repeat(60)], sampler({}), 0)).rejects.toThrow("leaves no room in the model's context of 48");
  model.dispose();
});

test("drawToken walks tokens exactly as a comparator sort by logit, then id, would (vocabulary order with no cut): ties, ±0, negatives and -Infinity", () => {
  // The sampling walk visits tokens in this exact order, so a seed keeps drawing the same tokens.
  const reference = (logits: Float32Array, c: { temperature: number; top_k: number; top_p: number }, rng: Rng) => {
    const ids = Array.from({ length: logits.length }, (_, v) => v);
    const cut = (c.top_k > 0 && c.top_k < logits.length) || c.top_p < 1;
    const order = cut ? ids.sort((a, b) => logits[b] - logits[a] || a - b) : ids;
    const max = Math.max(...Array.from(logits));
    const keep = c.top_k > 0 ? Math.min(c.top_k, logits.length) : logits.length;
    let probs = order.slice(0, keep).map((v) => Math.exp((logits[v] - max) / c.temperature));
    let total = probs.reduce((a, b) => a + b, 0);
    if (c.top_p < 1) {
      let cum = 0;
      let cut = probs.length;
      for (let i = 0; i < probs.length; i++) if ((cum += probs[i] / total) >= c.top_p) { cut = i + 1; break; }
      probs = probs.slice(0, cut);
      total = probs.reduce((a, b) => a + b, 0);
    }
    let u = rng.uniform() * total;
    let i = 0;
    // never past the last token of non-zero probability (the sorted walk ends on one anyway)
    const last = probs.reduce((at, p, j) => (p > 0 ? j : at), 0);
    while (i < last && u >= probs[i]) u -= probs[i++];
    return { token: order[i], logprob: Math.log(probs[i] / total) };
  };
  const source = new Rng(17);
  const pool = [0, -0, 1.5, -1.5, -Infinity, 3, 3, -7.25];
  for (let trial = 0; trial < 300; trial++) {
    const V = 1 + source.int(300);
    const logits = new Float32Array(V).map(() => (source.uniform() < 0.3 ? pool[source.int(pool.length)] : (source.uniform() - 0.5) * 20));
    if (logits.every((x) => x === -Infinity)) logits[0] = 0;
    const c = { temperature: 0.7, top_k: trial % 3 === 0 ? 5 : 0, top_p: trial % 2 === 0 ? 0.9 : 1 };
    if (trial % 6 === 1) c.temperature = 1e-3; // nearly all the mass on one token: rounding at the walk's end

    expect(drawToken(logits, c, new Rng(trial))).toEqual(reference(logits, c, new Rng(trial)));
  }
});
