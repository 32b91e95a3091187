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
 * returns its log-probability under the distribution actually sampled from. With a cut (top-k or
 * top-p) the walk visits tokens by logit, highest first; without one, in vocabulary order.
 */
export function drawToken(logits: Float32Array, c: Pick<SamplerConfig, "temperature" | "top_k" | "top_p">, rng: Rng): { token: number; logprob: number } {
  const V = logits.length;
  if (c.temperature === 0) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    return { token: best, logprob: 0 };
  }
  if ((c.top_k <= 0 || c.top_k >= V) && c.top_p >= 1) return drawUnfiltered(logits, c.temperature, rng);
  const order = descendingOrder(logits);
  const keep = c.top_k > 0 ? Math.min(c.top_k, V) : V;
  const max = logits[order[0]];
  // the same float64 arithmetic, in the same order, as mapping and reducing plain arrays
  const probs = scratch(keep);
  let total = 0;
  for (let i = 0; i < keep; i++) total += probs[i] = Math.exp((logits[order[i]] - max) / c.temperature);
  let n = keep;
  if (c.top_p < 1) {
    let cum = 0;
    for (let i = 0; i < keep; i++) {
      cum += probs[i] / total;
      if (cum >= c.top_p) {
        n = i + 1;
        break;
      }
    }
    total = 0;
    for (let i = 0; i < n; i++) total += probs[i];
  }
  let u = rng.uniform() * total;
  let i = 0;
  while (i < n - 1 && u >= probs[i]) u -= probs[i++];
  return { token: order[i], logprob: Math.log(probs[i] / total) };
}

/**
 * Nothing cut: the inverse-CDF walk runs in vocabulary order, as torch.multinomial's does, with no
 * sort (sorting 256 logits per row and token was a fifth of decoding). Rounding that leaves u past
 * the end picks the last token of non-zero probability, never a masked one.
 */
function drawUnfiltered(logits: Float32Array, temperature: number, rng: Rng): { token: number; logprob: number } {
  const V = logits.length;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[v] > max) max = logits[v];
  const probs = scratch(V);
  let total = 0;
  let last = 0;
  for (let v = 0; v < V; v++) {
    total += probs[v] = Math.exp((logits[v] - max) / temperature);
    if (probs[v] > 0) last = v;
  }
  let u = rng.uniform() * total;
  let i = 0;
  while (i < last && u >= probs[i]) u -= probs[i++];
  return { token: i, logprob: Math.log(probs[i] / total) };
}

let probScratch = new Float64Array(256);
function scratch(n: number): Float64Array {
  if (probScratch.length < n) probScratch = new Float64Array(n);
  return probScratch;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Token ids by logit, highest first, ties by lower id: an LSD radix sort (four stable byte passes,
 * ids entering in increasing order) of the logit's order-preserving 32 bits. It sorts exactly as a
 * comparator sort by (logit, id) would, about four times faster than the float64-keyed sort it
 * replaced; sampling sorts 256 logits a row and token. Returns a view of a buffer the next call
 * overwrites.
 */
let radix = { keys: new Uint32Array(0), ids: new Int32Array(0), keys2: new Uint32Array(0), ids2: new Int32Array(0) };
const counts = new Int32Array(256);

function descendingOrder(logits: Float32Array): Int32Array {
  const V = logits.length;
  if (radix.keys.length < V) radix = { keys: new Uint32Array(V), ids: new Int32Array(V), keys2: new Uint32Array(V), ids2: new Int32Array(V) };
  let { keys, ids, keys2, ids2 } = radix;
  for (let v = 0; v < V; v++) {
    f32[0] = -logits[v] + 0; // + 0 turns −0 into +0, which the comparator treats as equal
    const bits = u32[0];
    keys[v] = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    ids[v] = v;
  }
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let v = 0; v < V; v++) counts[(keys[v] >>> shift) & 255]++;
    for (let b = 0, at = 0; b < 256; b++) {
      const c = counts[b];
      counts[b] = at;
      at += c;
    }
    for (let v = 0; v < V; v++) {
      const to = counts[(keys[v] >>> shift) & 255]++;
      keys2[to] = keys[v];
      ids2[to] = ids[v];
    }
    [keys, keys2, ids, ids2] = [keys2, keys, ids2, ids];
  }
  return ids.subarray(0, V); // four passes: the sorted ids are back in the first buffer
}
