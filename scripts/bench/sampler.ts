/**
 * Decode benchmark of the reference config: 64 sequences (8 prompts × G = 8) × 64 new tokens at
 * temperature 1 after 32-token prompts, with the KV cache and with full recomputation per token,
 * side by side (PERFORMANCE.md's sampling figure; PyTorch's 1-thread cached decode is 4,322 tok/s).
 */
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import { modelConfig } from "../../trainer/model/config.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../datasets/rng.ts";
import { SamplerConfig, sampleGroups } from "../../trainer/sampler.ts";
import type { BenchOptions } from "./types.ts";

async function decodeRate(model: Transformer, prompts: string[], kvCache: boolean, newTokens: number): Promise<{ ms: number; tokens: number }> {
  const config = SamplerConfig.parse({ num_generations: 8, max_new_tokens: newTokens, kv_cache: kvCache });
  const t0 = performance.now();
  const out = await sampleGroups(model, new ByteTokenizer(), prompts, config, 1);
  return { ms: performance.now() - t0, tokens: out.reduce((s, c) => s + c.tokens.length, 0) };
}

export async function run(opts: BenchOptions): Promise<void> {
  const backend = await initBackend(opts.backend as BackendName);
  const model = Transformer.init(modelConfig({}), 0);
  const rng = new Rng(7);
  // 31 printable bytes + <bos> = 32-token prompts
  const prompts = Array.from({ length: 8 }, () => String.fromCharCode(...Array.from({ length: 31 }, () => 97 + rng.int(26))));
  const newTokens = opts.quick ? 16 : 64;
  await decodeRate(model, prompts, true, 4); // warm-up
  const cached = await decodeRate(model, prompts, true, newTokens);
  const full = await decodeRate(model, prompts, false, newTokens);
  const rate = (r: { ms: number; tokens: number }) => (r.tokens / (r.ms / 1000)).toFixed(0);
  console.log(`\n== sampler: 64 sequences x ${newTokens} new tokens after 32-token prompts, reference config, backend ${backend}`);
  console.log(`KV cache              ${cached.ms.toFixed(0)} ms   ${rate(cached)} tokens/s`);
  console.log(`full recomputation    ${full.ms.toFixed(0)} ms   ${rate(full)} tokens/s`);
  console.log(`KV-cache speedup      ${(full.ms / cached.ms).toFixed(1)}x (target >= 5x)`);
  model.dispose();
}
