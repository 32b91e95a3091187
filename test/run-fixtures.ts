/**
 * What the trainer tests share: runs described as one flat object of overrides (`{ resume: true,
 * train: {...} }`), which the library takes apart into the run's config and the command's I/O, and
 * a dense, learnable reward.
 */
import type { Verifier } from "../verifiers/types.ts";

/** Reward = share of the completion's characters that are lowercase letters: dense, so groups differ and GRPO can raise it. */
export const lowercase: Verifier = {
  name: "lowercase",
  verify: (completion) => ({ reward: completion.length ? [...completion].filter((ch) => ch >= "a" && ch <= "z").length / completion.length : 0, reason: "share" }),
};
const CONFIG_KEYS = new Set(["name", "seed", "base", "model", "init_from", "sampler", "grpo", "optimizer", "train", "eval", "output_dir", "rc"]);

export function splitRunOptions(extra: Record<string, unknown>): { config: Record<string, unknown>; io: Record<string, unknown> } {
  const config: Record<string, unknown> = {};
  const io: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra)) (CONFIG_KEYS.has(k) ? config : io)[k] = v;
  return { config, io };
}
