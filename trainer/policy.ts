/**
 * A policy answers prompts with sampled completions. Evaluation (and the reasoning-cache loop) talk
 * to this interface, so the same code drives an rlvr checkpoint in this process or any
 * OpenAI-compatible endpoint (trainer/eval/endpoint.ts).
 */
import type { Transformer } from "./model/transformer.ts";
import type { Tokenizer } from "./model/tokenizer.ts";
import { sampleSharded } from "./parallel/data-parallel.ts";
import type { WorkerPool } from "./parallel/workers.ts";
import { sampleGroups, SamplerConfig } from "./sampler.ts";

export interface SamplingParams {
  /** Completions per prompt. */
  n: number;
  temperature: number;
  top_p: number;
  max_tokens: number;
  stop: string[];
  seed: number;
}

export interface PromptRequest {
  prompt: string;
  /** A stable key (the dataset row index): the same key and seed give the same samples. */
  key: number;
}

export interface Generation {
  text: string;
  /** Completion tokens as the policy counts them. */
  tokens: number;
  finishReason: "stop" | "length";
  /** The request failed (an endpoint refused it or kept failing): the reason; text is "" and tokens 0. */
  error?: string;
  /** With `error`: the endpoint was unreachable or kept failing, rather than refusing this request. */
  unavailable?: boolean;
  /** The completion budget used, where the context left less than max_tokens. */
  maxTokens?: number;
}

export interface Policy {
  /** Shown in summaries. */
  readonly name: string;
  /** How many prompts to hand over at once, asking n completions each, for good throughput. */
  promptsPerCall(n: number): number;
  /** For each request, `params.n` generations. */
  generate(requests: PromptRequest[], params: SamplingParams): Promise<Generation[][]>;
  close(): Promise<void>;
  /**
   * Tokens of `text` as this policy's tokenizer encodes it inside a prompt (no special tokens).
   * Optional: an endpoint cannot count exactly, so it leaves this out. The reasoning-cache loop uses
   * it to truncate summaries to H_S tokens and to check its context bound.
   */
  countTokens?(text: string): number;
  /**
   * The most tokens one call may hold: prompt text plus completion, with the special tokens the
   * policy adds itself (an rlvr model's <bos>) already subtracted. Optional, as countTokens.
   */
  readonly maxContext?: number;
}

/**
 * An rlvr checkpoint sampled in this process with the batched KV-cache sampler, or across the ranks
 * of a data-parallel pool (`rlvr eval --workers`): the same samples either way, as each is seeded
 * by (seed, key, sample).
 */
export class LocalPolicy implements Policy {
  /**
   * `base` supplies what requests do not set (top-k, stop strings, batch size, KV cache); a
   * request's stop strings add to its stops. `ownsModel`: close() disposes the model (false when
   * a trainer lends its policy model, as RC training does). `pool`: ranks that share each call's
   * prompts; close() closes it.
   */
  constructor(
    readonly name: string,
    private readonly model: Transformer,
    private readonly tokenizer: Tokenizer,
    private readonly base: SamplerConfig = SamplerConfig.parse({}),
    private readonly ownsModel = true,
    private readonly pool?: WorkerPool,
  ) {}

  /** The model's context_length less the <bos> every prompt starts with. */
  get maxContext(): number {
    return this.model.config.context_length - 1;
  }

  countTokens(text: string): number {
    return this.tokenizer.encode(text).length;
  }

  /** Prompts per call so that prompts × n fills one decoding batch on each rank. */
  promptsPerCall(n: number): number {
    return Math.max(1, Math.floor(this.base.batch_size / n)) * (this.pool?.size ?? 1);
  }

  async generate(requests: PromptRequest[], params: SamplingParams): Promise<Generation[][]> {
    const config = SamplerConfig.parse({
      ...this.base,
      num_generations: params.n,
      max_new_tokens: params.max_tokens,
      temperature: params.temperature,
      top_p: params.top_p,
      stop: [...this.base.stop, ...params.stop],
    });
    const prompts = requests.map((r) => r.prompt);
    const keys = requests.map((r) => r.key);
    const completions = this.pool
      ? await sampleSharded(this.pool, { model: this.model, tokenizer: this.tokenizer, sampler: config }, prompts, params.seed, keys)
      : await sampleGroups(this.model, this.tokenizer, prompts, config, params.seed, keys);
    const out: Generation[][] = requests.map(() => []);
    for (const c of completions) out[c.group][c.sample] = { text: c.text, tokens: c.tokens.length, finishReason: c.truncated ? "length" : "stop" };
    return out;
  }

  async close(): Promise<void> {
    await this.pool?.close();
    if (this.ownsModel) this.model.dispose();
  }
}
