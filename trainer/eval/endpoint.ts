/**
 * A policy behind an OpenAI-compatible HTTP API (vLLM, SGLang, llama.cpp, `rlvr serve`, OpenAI).
 * One request per sample (n = 1) so that every sample's token count is exact and a retry redoes one
 * sample only; requests are bounded by `concurrency`, time out after `timeoutMs`, and are retried
 * with exponential backoff (honouring Retry-After) on 408, 429, 5xx, timeouts and network errors.
 * A completion never asks for more than the model's context: max_tokens is cut to what the context
 * leaves after the prompt, as lighteval does before it hands a prompt to vLLM (see `fitted`).
 * The API key is read from an environment variable and never written to logs or errors.
 */
import pLimit from "p-limit";
import type { Generation, Policy, PromptRequest, SamplingParams } from "../policy.ts";
import { UserError } from "../../datasets/user-error.ts";

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
  /**
   * A sample the endpoint refuses (a 4xx about that request, such as a prompt longer than the
   * context) or that still fails after every retry: "throw" rejects the whole call; "record" returns
   * it as a Generation with `error`, so one bad sample does not end an evaluation. Refusals that
   * would hit every request (401, 403, 404, 405: a wrong key, model name or URL) always throw.
   */
  sampleErrors?: "throw" | "record";
  /** Called on each retry, e.g. to log it; never given the API key. */
  onRetry?: (info: { attempt: number; delayMs: number; why: string }) => void;
  /** Injected in tests. */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

export const ENDPOINT_DEFAULTS = { api: "chat", concurrency: 8, timeoutMs: 600_000, maxRetries: 6, backoffMs: 500, maxBackoffMs: 30_000 } as const;

/** What `GET /models` says: the ids served and this model's context length (vLLM's `max_model_len`). */
export interface EndpointInfo {
  models: string[];
  maxModelLen: number | null;
}

/** An error the endpoint answered with that retrying will not fix, or a failure that outlasted every retry. */
export class EndpointError extends UserError {
  override name = "EndpointError";
  /** `unavailable`: the endpoint could not be reached or kept failing (5xx, timeouts), not a refusal of this request. */
  constructor(message: string, readonly status: number | null, readonly unavailable = false) {
    super(message);
  }

  /** A refusal that every request would get: a wrong key, model name or URL, not this sample's fault. */
  get refusesEveryRequest(): boolean {
    return this.status !== null && [401, 403, 404, 405, 407].includes(this.status);
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
  /** The model's context in tokens: from probe(), or learned from a refusal that states it. */
  private maxModelLen: number | null = null;
  private listed: string[] = [];
  /** Prompt tokens by prompt text, as the server counted them in a context-length refusal. */
  private readonly promptTokens = new Map<string, number>();

  constructor(options: EndpointOptions) {
    this.o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.name = options.model;
    this.limit = pLimit(options.concurrency);
  }

  promptsPerCall(n: number): number {
    return Math.max(1, Math.ceil((2 * this.o.concurrency) / n));
  }

  /**
   * Asks `GET /models` (with the usual retries) for the ids served and the model's context length.
   * An endpoint that cannot be reached fails here, before any sample; one without the route (or
   * without `max_model_len`) is fine: completions then ask for max_tokens as given.
   */
  async probe(): Promise<EndpointInfo> {
    const url = `${this.o.baseUrl}/models`;
    const json = await this.withRetries(async () => {
      const res = await this.send(url, { method: "GET", headers: this.headers() });
      const text = await res.text();
      if (res.ok) return parseJson(text);
      const why = `HTTP ${res.status} from ${url}: ${serverMessage(text)}`;
      if (RETRY_STATUS(res.status)) throw new Retryable(why, retryAfter(res.headers.get("retry-after")));
      if (res.status === 401 || res.status === 403) throw new EndpointError(why, res.status);
      return null; // no such route here: nothing to learn
    }) as { data?: { id?: unknown; max_model_len?: unknown }[] } | null;
    const data = Array.isArray(json?.data) ? json.data : [];
    this.listed = data.map((m) => String(m.id));
    const card = data.find((m) => m.id === this.o.model);
    const len = card?.max_model_len;
    if (typeof len === "number" && Number.isInteger(len) && len > 0) this.maxModelLen = len;
    return { models: this.listed, maxModelLen: this.maxModelLen };
  }

  async generate(requests: PromptRequest[], params: SamplingParams): Promise<Generation[][]> {
    return Promise.all(
      requests.map((r) =>
        Promise.all(Array.from({ length: params.n }, (_, i) => this.limit(() => this.sample(r.prompt, params, sampleSeed(params.seed, r.key, i))))),
      ),
    );
  }

  async close(): Promise<void> {
    this.limit.clearQueue();
  }

  private async sample(prompt: string, params: SamplingParams, seed: number): Promise<Generation> {
    try {
      return await this.fitted(prompt, params, seed);
    } catch (e) {
      if (this.o.sampleErrors !== "record" || !(e instanceof EndpointError) || e.refusesEveryRequest) throw e;
      return { text: "", tokens: 0, finishReason: "stop", error: e.message, ...(e.unavailable ? { unavailable: true } : {}) };
    }
  }

  /**
   * One sample whose max_tokens fits the context: cut to the model's context less the prompt's
   * tokens where both are known. The client cannot count a prompt's tokens (the server's tokenizer
   * and chat template do), so the first sample of a long-budget prompt is refused by a vLLM-style
   * server with a message that counts them ("maximum context length is C tokens … P in the
   * messages"); it is asked again once with exactly the C − P tokens left, the count is kept for the
   * prompt's other samples, and the server still decides. A prompt that leaves no room is refused.
   */
  private async fitted(prompt: string, params: SamplingParams, seed: number): Promise<Generation> {
    const budget = this.budget(prompt, params.max_tokens);
    try {
      return withBudget(await this.withRetries(() => this.sampleOnce(prompt, { ...params, max_tokens: budget }, seed)), budget, params.max_tokens);
    } catch (e) {
      const over = e instanceof EndpointError && e.status === 400 ? contextOverflow(e.message) : null;
      if (!over) throw e;
      this.promptTokens.set(prompt, over.promptTokens);
      this.maxModelLen ??= over.context;
      const room = over.context - over.promptTokens;
      if (room < 1 || room >= budget) throw e;
      return withBudget(await this.withRetries(() => this.sampleOnce(prompt, { ...params, max_tokens: room }, seed)), room, params.max_tokens);
    }
  }

  private budget(prompt: string, maxTokens: number): number {
    if (this.maxModelLen === null) return maxTokens;
    return Math.max(1, Math.min(maxTokens, this.maxModelLen - (this.promptTokens.get(prompt) ?? 0)));
  }

  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (e) {
        if (!(e instanceof Retryable)) throw e;
        if (i >= this.o.maxRetries) throw new EndpointError(`${this.o.baseUrl}: gave up after ${i + 1} attempt${i ? "s" : ""}: ${e.message}`, null, true);
        const delayMs = Math.min(e.retryAfterMs ?? this.backoff(i), this.o.maxBackoffMs);
        this.o.onRetry?.({ attempt: i + 1, delayMs, why: e.message });
        await (this.o.sleep ?? sleep)(delayMs);
      }
    }
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** attempt);
    return Math.round(base * (0.5 + Math.random()));
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    return headers;
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
    const res = await this.send(url, { method: "POST", headers: this.headers(), body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) {
      const why = `HTTP ${res.status} from ${url}: ${serverMessage(text)}`;
      if (RETRY_STATUS(res.status)) throw new Retryable(why, retryAfter(res.headers.get("retry-after")));
      const unlisted = res.status === 404 && this.listed.length && !this.listed.includes(this.o.model);
      throw new EndpointError(unlisted ? `${why} (${this.o.baseUrl}/models lists ${this.listed.map((m) => JSON.stringify(m)).join(", ")})` : why, res.status);
    }
    return parseGeneration(parseJson(text, url), chat, url);
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await (this.o.fetch ?? fetch)(url, { ...init, signal: AbortSignal.timeout(this.o.timeoutMs) });
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

/**
 * The context C and the prompt's tokens P from a context-length refusal, in the wordings of OpenAI
 * and older vLLM ("maximum context length is C tokens … (P in the messages, …)"), newer vLLM ("…
 * your request has P input tokens") and `rlvr serve` ("… (P in the prompt, …)"); null otherwise.
 */
export function contextOverflow(message: string): { context: number; promptTokens: number } | null {
  const context = /maximum context length is (\d+)/i.exec(message);
  const prompt = /(\d+) in the (?:messages|prompt)\b/i.exec(message) ?? /has (\d+) input tokens/i.exec(message);
  return context && prompt ? { context: Number(context[1]), promptTokens: Number(prompt[1]) } : null;
}

const withBudget = (g: Generation, budget: number, asked: number): Generation => (budget < asked ? { ...g, maxTokens: budget } : g);

function parseJson(text: string, url?: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    if (url === undefined) return null; // a /models answer that is not JSON: nothing to learn
    throw new Retryable(`${url}: answer is not JSON: ${text.slice(0, 200)}`, null);
  }
}

function parseGeneration(answer: unknown, chat: boolean, url: string): Generation {
  const json = answer as { choices?: { text?: string; message?: { content?: string | null }; finish_reason?: string }[]; usage?: { completion_tokens?: number } };
  const choice = json?.choices?.[0];
  if (!choice) throw new EndpointError(`${url}: answer has no choices: ${JSON.stringify(answer).slice(0, 200)}`, null);
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
