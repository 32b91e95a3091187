/**
 * A policy behind an OpenAI-compatible HTTP API (vLLM, SGLang, llama.cpp, `rlvr serve`, OpenAI).
 * One request per sample (n = 1) so that every sample's token count is exact and a retry redoes one
 * sample only; requests are bounded by `concurrency`, time out after `timeoutMs`, and are retried
 * with exponential backoff (honouring Retry-After) on 408, 429, 5xx, timeouts and network errors.
 * The API key is read from an environment variable and never written to logs or errors.
 */
import pLimit from "p-limit";
import type { Generation, Policy, PromptRequest, SamplingParams } from "./policy.ts";
import { UserError } from "../user-error.ts";

export interface EndpointOptions {
  /** Base URL including `/v1`, e.g. http://localhost:8000/v1. */
  baseUrl: string;
  /** The `model` field of requests. */
  model: string;
  /** `chat` → /chat/completions with one user message; `completion` → /completions. */
  api: "chat" | "completion";
  apiKey?: string;
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  /** First backoff delay; doubles per attempt, capped at maxBackoffMs, with ±50% jitter. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Called on each retry, e.g. to log it; never given the API key. */
  onRetry?: (info: { attempt: number; delayMs: number; why: string }) => void;
  /** Injected in tests. */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

export const ENDPOINT_DEFAULTS = { api: "chat", concurrency: 8, timeoutMs: 600_000, maxRetries: 6, backoffMs: 500, maxBackoffMs: 30_000 } as const;

/** An error the endpoint answered with that retrying will not fix (a 4xx other than 408/429). */
export class EndpointError extends UserError {
  override name = "EndpointError";
  constructor(message: string, readonly status: number | null) {
    super(message);
  }
}

/** A failure worth retrying, with the server's Retry-After when it gave one. */
class Retryable extends Error {
  constructor(message: string, readonly retryAfterMs: number | null) {
    super(message);
  }
}

const RETRY_STATUS = (s: number) => s === 408 || s === 429 || s >= 500;

export class EndpointPolicy implements Policy {
  readonly name: string;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly o: EndpointOptions;

  constructor(options: EndpointOptions) {
    this.o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.name = options.model;
    this.limit = pLimit(options.concurrency);
  }

  promptsPerCall(n: number): number {
    return Math.max(1, Math.ceil((2 * this.o.concurrency) / n));
  }

  async generate(requests: PromptRequest[], params: SamplingParams): Promise<Generation[][]> {
    return Promise.all(
      requests.map((r) =>
        Promise.all(Array.from({ length: params.n }, (_, i) => this.limit(() => this.sampleWithRetries(r.prompt, params, sampleSeed(params.seed, r.key, i))))),
      ),
    );
  }

  async close(): Promise<void> {
    this.limit.clearQueue();
  }

  private async sampleWithRetries(prompt: string, params: SamplingParams, seed: number): Promise<Generation> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.sampleOnce(prompt, params, seed);
      } catch (e) {
        if (!(e instanceof Retryable)) throw e;
        if (attempt >= this.o.maxRetries) throw new EndpointError(`${this.o.baseUrl}: gave up after ${attempt + 1} attempts: ${e.message}`, null);
        const delayMs = Math.min(e.retryAfterMs ?? this.backoff(attempt), this.o.maxBackoffMs);
        this.o.onRetry?.({ attempt: attempt + 1, delayMs, why: e.message });
        await (this.o.sleep ?? sleep)(delayMs);
      }
    }
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** attempt);
    return Math.round(base * (0.5 + Math.random()));
  }

  private async sampleOnce(prompt: string, params: SamplingParams, seed: number): Promise<Generation> {
    const chat = this.o.api === "chat";
    const url = `${this.o.baseUrl}/${chat ? "chat/completions" : "completions"}`;
    const body = {
      model: this.o.model,
      ...(chat ? { messages: [{ role: "user", content: prompt }] } : { prompt }),
      n: 1,
      temperature: params.temperature,
      top_p: params.top_p,
      max_tokens: params.max_tokens,
      seed,
      ...(params.stop.length ? { stop: params.stop } : {}),
    };
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    const res = await this.post(url, headers, JSON.stringify(body));
    const text = await res.text();
    if (!res.ok) {
      const why = `HTTP ${res.status} from ${url}: ${serverMessage(text)}`;
      if (RETRY_STATUS(res.status)) throw new Retryable(why, retryAfter(res.headers.get("retry-after")));
      throw new EndpointError(why, res.status);
    }
    return parseGeneration(text, chat, url);
  }

  private async post(url: string, headers: Record<string, string>, body: string): Promise<Response> {
    try {
      return await (this.o.fetch ?? fetch)(url, { method: "POST", headers, body, signal: AbortSignal.timeout(this.o.timeoutMs) });
    } catch (e) {
      const err = e as Error;
      if (err.name === "TimeoutError" || err.name === "AbortError") throw new Retryable(`no answer from ${url} within ${this.o.timeoutMs} ms`, null);
      throw new Retryable(`cannot reach ${url}: ${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ""}`, null);
    }
  }
}

/** Seed of one sample: distinct per (run seed, problem, sample), so servers that honour seeds repeat. */
export function sampleSeed(seed: number, key: number, sample: number): number {
  let h = 2166136261 ^ seed;
  for (const v of [key, sample]) h = Math.imul(h ^ v, 16777619) >>> 0;
  return h & 0x7fffffff;
}

function parseGeneration(text: string, chat: boolean, url: string): Generation {
  let json: { choices?: { text?: string; message?: { content?: string | null }; finish_reason?: string }[]; usage?: { completion_tokens?: number } };
  try {
    json = JSON.parse(text);
  } catch {
    throw new Retryable(`${url}: answer is not JSON: ${text.slice(0, 200)}`, null);
  }
  const choice = json.choices?.[0];
  if (!choice) throw new EndpointError(`${url}: answer has no choices: ${text.slice(0, 200)}`, null);
  const content = chat ? choice.message?.content ?? "" : choice.text ?? "";
  return {
    text: content,
    tokens: json.usage?.completion_tokens ?? 0,
    finishReason: choice.finish_reason === "length" ? "length" : "stop",
  };
}

/** The `error.message` of an OpenAI-style error body, else the body's start. */
function serverMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { error?: { message?: string } }).error?.message;
    if (m) return m;
  } catch {
    // not JSON: show the raw start
  }
  return body.slice(0, 200) || "(empty body)";
}

function retryAfter(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
