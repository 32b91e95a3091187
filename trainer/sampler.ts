/**
 * Batched generation with the KV cache: G completions per prompt, temperature / top-k / top-p or
 * greedy, stop on <eos> or stop strings, a max-new-tokens budget. Returns text, token ids, the
 * log-probability of each sampled token under the distribution it was drawn from, and whether the
 * budget ran out (`truncated`). Prompts of different lengths are left-padded; the model masks the
 * padding and starts each row's positions after it, so a row samples the same alone or in a batch.
 * Randomness: one generator per (seed, prompt, sample), so resuming or regrouping draws the same.
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import type { Tokenizer } from "./model/tokenizer.ts";
import { KVCache, type Transformer } from "./model/transformer.ts";
import { Rng } from "../datasets/rng.ts";

export const SamplerConfig = z.strictObject({
  num_generations: z.int().min(1).default(8).describe("G: completions sampled per prompt (one GRPO group)."),
  max_new_tokens: z.int().min(1).default(64).describe("Budget per completion; a completion that reaches it is `truncated`."),
  temperature: z.number().min(0).default(1.0).describe("Softmax temperature; 0 means greedy (argmax)."),
  top_k: z.int().min(0).default(0).describe("Keep only the k most likely tokens before sampling; 0 = off."),
  top_p: z.number().gt(0).max(1).default(1.0).describe("Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."),
  stop: z.array(z.string().min(1)).default([]).describe("Stop strings: generation ends when one appears; the text is cut before it."),
  kv_cache: z.boolean().default(true).describe("Decode with the KV cache (false recomputes the whole sequence each token: for benchmarks)."),
  batch_size: z.int().min(1).default(64).describe("Sequences decoded together; larger batches are split."),
});
export type SamplerConfig = z.infer<typeof SamplerConfig>;

export interface Completion {
  /** Index of the prompt this completion answers (its GRPO group). */
  group: number;
  /** Index within the group, 0..G-1. */
  sample: number;
  /** Decoded completion, cut before a stop string; specials dropped. */
  text: string;
  /** Sampled token ids (including a final <eos> when the model emitted one). */
  tokens: number[];
  /** log π(token) under the sampling distribution (after temperature, top-k, top-p). */
  logprobs: number[];
  /** The budget ran out before <eos> or a stop string. */
  truncated: boolean;
  finishReason: "eos" | "stop" | "length";
}

/** Prompt token ids: <bos> then the prompt's bytes. */
export function promptTokens(tokenizer: Tokenizer, prompt: string): number[] {
  return [tokenizer.bos, ...tokenizer.encode(prompt)];
}

/**
 * G completions for each prompt, grouped: result[i·G + g] answers prompts[i]. Seeds derive from
 * (seed, prompt index + promptOffset, g), so a prompt's samples do not depend on its batch-mates;
 * `promptOffset` may instead give each prompt its own key (evaluation keys prompts by dataset row).
 */
export async function sampleGroups(
  model: Transformer,
  tokenizer: Tokenizer,
  prompts: string[],
  config: SamplerConfig,
  seed: number,
  promptOffset: number | number[] = 0,
): Promise<Completion[]> {
  const jobs: Job[] = [];
  prompts.forEach((prompt, i) => {
    const ids = promptTokens(tokenizer, prompt);
    for (let g = 0; g < config.num_generations; g++) {
      jobs.push({ group: i, sample: g, prompt: ids, rng: Rng.forKeys(seed, typeof promptOffset === "number" ? i + promptOffset : promptOffset[i], g) });
    }
  });
  const out: Completion[] = [];
  for (let start = 0; start < jobs.length; start += config.batch_size) {
    out.push(...(await sampleBatch(model, tokenizer, jobs.slice(start, start + config.batch_size), config)));
    await new Promise((r) => setImmediate(r)); // let progress bars and signals through between batches
  }
  return out;
}

interface Job {
  group: number;
  sample: number;
  prompt: number[];
  rng: Rng;
}

/** Decodes one batch of jobs to completion. */
async function sampleBatch(model: Transformer, tokenizer: Tokenizer, jobs: Job[], c: SamplerConfig): Promise<Completion[]> {
  const B = jobs.length;
  const P = Math.max(...jobs.map((j) => j.prompt.length));
  const budget = Math.min(c.max_new_tokens, model.config.context_length - P);
  if (budget < 1) throw new Error(`a prompt of ${P} tokens leaves no room in the model's context of ${model.config.context_length}`);
  const padding = jobs.map((j) => P - j.prompt.length);
  const rows = jobs.map((j, b) => [...new Array(padding[b]).fill(tokenizer.pad), ...j.prompt]);
  const state = jobs.map(() => ({ tokens: [] as number[], logprobs: [] as number[], done: false, reason: "length" as Completion["finishReason"], text: "" }));
  let cache = c.kv_cache ? new KVCache(model.config.n_layers, padding, P + budget, KVCache.canGrowInPlace()) : undefined;
  // Finished rows leave the batch (and the cache): decoding costs the tokens sampled, not B × the
  // longest. Leaving copies the whole cache, so with a cache they leave in groups (an eighth of the
  // batch, or all of it): until then a finished row is decoded and its logits ignored. Rows do not
  // interact, so the others' numbers are the same either way.
  let inBatch = jobs.map((_, b) => b);
  try {
    for (let step = 0; step < budget; step++) {
      const input = cache && step > 0 ? inBatch.map((b) => [rows[b][rows[b].length - 1]]) : inBatch.map((b) => rows[b]);
      const logits = lastLogits(model, input, cache, inBatch.map((b) => padding[b]));
      const V = logits.length / inBatch.length;
      inBatch.forEach((b, r) => {
        const s = state[b];
        if (s.done) return;
        const { token, logprob } = drawToken(logits.subarray(r * V, (r + 1) * V), c, jobs[b].rng);
        rows[b].push(token);
        s.tokens.push(token);
        s.logprobs.push(logprob);
        finishIfStopped(s, token, tokenizer, c.stop);
      });
      const live = inBatch.flatMap((b, r) => (state[b].done ? [] : [r]));
      if (live.length === 0) break;
      const dead = inBatch.length - live.length;
      if (dead === 0 || (cache && dead * 8 < inBatch.length)) continue;
      if (cache) cache = cache.keepRows(live);
      inBatch = live.map((r) => inBatch[r]);
    }
  } finally {
    cache?.dispose();
  }
  return jobs.map((j, b) => ({
    group: j.group,
    sample: j.sample,
    text: state[b].done ? state[b].text : tokenizer.decode(state[b].tokens),
    tokens: state[b].tokens,
    logprobs: state[b].logprobs,
    truncated: !state[b].done,
    finishReason: state[b].reason,
  }));
}

/** Logits of each row's last position, read to the host: [B·V] (with a cache, its padding applies). */
export function lastLogits(model: Transformer, input: number[][], cache: KVCache | undefined, padding: number[] = []): Float32Array {
  const B = input.length;
  const T = input[0].length;
  const logits = tf.tidy(() => {
    const { hidden } = model.forward(tf.tensor2d(input, [B, T], "int32"), cache ? { cache, stats: false } : { padding, stats: false });
    const last = tf.reshape(tf.slice(hidden, [0, T - 1, 0], [B, 1, model.config.d_model]), [B, model.config.d_model]) as tf.Tensor2D;
    return model.logits(last);
  });
  try {
    return logits.dataSync() as Float32Array;
  } finally {
    logits.dispose();
  }
}

/** Marks a sequence done on <eos> or when its text contains a stop string (cut before it). */
function finishIfStopped(s: { tokens: number[]; done: boolean; reason: Completion["finishReason"]; text: string }, token: number, tokenizer: Tokenizer, stop: string[]): void {
  if (token === tokenizer.eos) {
    s.done = true;
    s.reason = "eos";
    s.text = tokenizer.decode(s.tokens);
    return;
  }
  if (stop.length === 0) return;
  const text = tokenizer.decode(s.tokens);
  const hits = stop.map((st) => text.indexOf(st)).filter((i) => i >= 0);
  if (hits.length) {
    s.done = true;
    s.reason = "stop";
    s.text = text.slice(0, Math.min(...hits));
  }
}

/**
 * Draws one token from logits [V] with temperature, top-k and top-p (temperature 0 = argmax) and
 * returns its log-probability under the distribution actually sampled from.
 */
export function drawToken(logits: Float32Array, c: Pick<SamplerConfig, "temperature" | "top_k" | "top_p">, rng: Rng): { token: number; logprob: number } {
  const V = logits.length;
  if (c.temperature === 0) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    return { token: best, logprob: 0 };
  }
  const order = descendingOrder(logits);
  const keep = c.top_k > 0 ? Math.min(c.top_k, V) : V;
  const max = logits[order[0]];
  let probs = order.slice(0, keep).map((v) => Math.exp((logits[v] - max) / c.temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (c.top_p < 1) {
    let cum = 0;
    let cut = probs.length;
    for (let i = 0; i < probs.length; i++) {
      cum += probs[i] / total;
      if (cum >= c.top_p) {
        cut = i + 1;
        break;
      }
    }
    probs = probs.slice(0, cut);
    total = probs.reduce((a, b) => a + b, 0);
  }
  let u = rng.uniform() * total;
  let i = 0;
  while (i < probs.length - 1 && u >= probs[i]) u -= probs[i++];
  return { token: order[i], logprob: Math.log(probs[i] / total) };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Token ids by logit, highest first, ties by lower id. A native numeric sort of packed keys (the
 * logit's order-preserving 32 bits above the id's bits, exact in a float64) is several times
 * faster than sorting ids with a comparator, and sorts identically.
 */
function descendingOrder(logits: Float32Array): number[] {
  const V = logits.length;
  const idBits = 2 ** Math.max(1, Math.ceil(Math.log2(V)));
  const keys = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    f32[0] = -logits[v] + 0; // + 0 turns −0 into +0, which the comparator treated as equal
    const bits = u32[0];
    const ordered = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    keys[v] = ordered * idBits + v;
  }
  keys.sort();
  const order = new Array<number>(V);
  for (let i = 0; i < V; i++) order[i] = keys[i] % idBits;
  return order;
}
