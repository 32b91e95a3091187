/**
 * Turns sampled groups into a training batch: each prompt left-padded to the longest prompt, each
 * completion right-padded to the longest completion, so every completion starts at the same
 * position and its token log-probs come out of one forward pass as [B, L].
 */
import * as tf from "@tensorflow/tfjs";
import type { LmBatch } from "./lm.ts";
import type { Tokenizer } from "./model/tokenizer.ts";
import { promptTokens, type Completion } from "./sampler.ts";

/** The batch scoring completion tokens: targets [B, L], mask 1 on real completion tokens. */
export function completionBatch(tokenizer: Tokenizer, prompts: string[], completions: Completion[]): LmBatch {
  const promptIds = completions.map((c) => promptTokens(tokenizer, prompts[c.group]));
  const P = Math.max(...promptIds.map((p) => p.length));
  const L = Math.max(1, ...completions.map((c) => c.tokens.length));
  const B = completions.length;
  const T = P + L - 1; // the last completion token is only a target, never an input
  const tokens = new Int32Array(B * T).fill(tokenizer.pad);
  const targets = new Int32Array(B * L).fill(tokenizer.pad);
  const mask = new Float32Array(B * L);
  const padding = promptIds.map((p) => P - p.length);
  completions.forEach((c, b) => {
    const seq = [...promptIds[b], ...c.tokens];
    seq.slice(0, T - padding[b]).forEach((t, j) => (tokens[b * T + padding[b] + j] = t));
    c.tokens.forEach((t, j) => {
      targets[b * L + j] = t;
      mask[b * L + j] = 1;
    });
  });
  return {
    tokens: tf.tensor2d(tokens, [B, T], "int32"),
    targets: tf.tensor2d(targets, [B, L], "int32"),
    mask: tf.tensor2d(mask, [B, L]),
    start: P - 1,
    padding,
  };
}
