/**
 * DAPO's soft overlong penalty (Yu et al. 2025, eq. 13): with maximum length L and buffer B,
 * 0 while len ≤ L − B, then a linear ramp (L − B − len) / B down to −1 at len = L, and −1 beyond.
 * It reads token counts from the context; it never looks at the text.
 */
import { z } from "zod";
import type { Verifier, VerifyContext, VerifyResult } from "./types.ts";

export const OverlongConfig = z.strictObject({
  maxTokens: z.int().positive().optional()
    .describe("L: the length at which the penalty reaches -1; unset means the sampler's ctx.maxCompletionTokens."),
  bufferTokens: z.int().positive().optional()
    .describe("B: the ramp's width in tokens; unset means L/5, DAPO's ratio (4096 of 20480)."),
});
export type OverlongConfig = z.infer<typeof OverlongConfig>;

/** The penalty for `len` tokens with maximum `maxTokens` (L) and buffer `bufferTokens` (B), in [-1, 0]. */
export function overlongPenalty(len: number, maxTokens: number, bufferTokens: number): number {
  const start = maxTokens - bufferTokens;
  if (len <= start) return 0;
  if (len <= maxTokens) return (start - len) / bufferTokens;
  return -1;
}

/** Scores one completion's length; null when the length or the maximum is unknown. */
export function checkOverlong(ctx: VerifyContext, config: OverlongConfig): VerifyResult {
  const len = ctx.completionTokens;
  const maxTokens = config.maxTokens ?? ctx.maxCompletionTokens;
  if (len === undefined) return { reward: null, reason: "no_length" };
  if (maxTokens === undefined) return { reward: null, reason: "no_max_length" };
  const bufferTokens = config.bufferTokens ?? Math.max(1, Math.round(maxTokens / 5));
  if (bufferTokens > maxTokens) {
    return { reward: null, reason: "bad_config", problem: `bufferTokens ${bufferTokens} > maxTokens ${maxTokens}` };
  }
  const reward = overlongPenalty(len, maxTokens, bufferTokens);
  const reason = len > maxTokens ? "over_limit" : reward < 0 ? "soft_penalty" : "within_limit";
  return { reward, reason, tokens: len, maxTokens, bufferTokens };
}

/** The `overlong` verifier with its options validated. */
export function overlongVerifier(options: unknown = {}): Verifier {
  const config = OverlongConfig.parse(options);
  return { name: "overlong", verify: (_completion, _row, ctx) => checkOverlong(ctx, config) };
}
