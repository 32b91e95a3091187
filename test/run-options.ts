/**
 * Tests describe a run as one flat object of overrides (`{ resume: true, train: {...} }`); the
 * library takes the run's config (validated by its zod schema) and the command's I/O apart.
 */
const CONFIG_KEYS = new Set(["name", "seed", "base", "model", "init_from", "sampler", "grpo", "optimizer", "train", "eval", "output_dir", "rc"]);

export function splitRunOptions(extra: Record<string, unknown>): { config: Record<string, unknown>; io: Record<string, unknown> } {
  const config: Record<string, unknown> = {};
  const io: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra)) (CONFIG_KEYS.has(k) ? config : io)[k] = v;
  return { config, io };
}
