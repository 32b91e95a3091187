/**
 * The response side of the OpenAI API: completion and chat objects, their streamed chunks, usage and
 * logprobs, shaped as OpenAI and vLLM send them (vLLM's `stop_reason` included). Token strings
 * follow OpenAI's convention for byte-level tokens: a byte that is not a whole character by itself
 * is written "bytes:\xNN"; specials are "<eos>" etc.
 */
import { randomUUID } from "node:crypto";
import type { Tokenizer } from "../../trainer/model/tokenizer.ts";
import type { SequenceResult, TokenLogprob } from "./sequence.ts";

export type FinishReason = "stop" | "length";
export type Endpoint = "completion" | "chat";

/** What every object of one response shares. */
export interface ResponseHead {
  endpoint: Endpoint;
  id: string;
  created: number;
  model: string;
}

export function responseHead(endpoint: Endpoint, model: string): ResponseHead {
  const prefix = endpoint === "chat" ? "chatcmpl" : "cmpl";
  return { endpoint, id: `${prefix}-${randomUUID().replaceAll("-", "")}`, created: Math.floor(Date.now() / 1000), model };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(promptTokens: number, results: SequenceResult[]): Usage {
  const completion = results.reduce((n, r) => n + r.tokens.length, 0);
  return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion };
}

/** <eos> and a stop string both end a completion normally: OpenAI's "stop". */
export const finishReason = (r: SequenceResult): FinishReason => (r.finishReason === "length" ? "length" : "stop");

/** The whole (non-streamed) response; results[i] is choice i. */
export function responseBody(head: ResponseHead, results: SequenceResult[], logprobs: LogprobWriter[] | null, use: Usage): object {
  const choices = results.map((r, index) => {
    const lp = logprobs && r.logprobs ? logprobs[index].write(r.logprobs) : null;
    const end = { logprobs: lp, finish_reason: finishReason(r), stop_reason: r.stopString ?? null };
    return head.endpoint === "chat" ? { index, message: { role: "assistant", content: r.text }, ...end } : { index, text: r.text, ...end };
  });
  return { id: head.id, object: head.endpoint === "chat" ? "chat.completion" : "text_completion", created: head.created, model: head.model, choices, usage: use };
}

/** The first streamed chunk of each chat choice: the assistant role, as OpenAI sends it. */
export function roleChunk(head: ResponseHead, index: number, includeUsage: boolean): object {
  return withHead(head, { index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }, includeUsage);
}

/** One streamed chunk for one choice: new text, its tokens' logprobs, and the finish reason at the end. */
export function chunk(head: ResponseHead, index: number, text: string, logprobs: object | null, finish: SequenceResult | null, includeUsage: boolean): object {
  const end = finish ? { finish_reason: finishReason(finish), stop_reason: finish.stopString ?? null } : { finish_reason: null };
  const body = head.endpoint === "chat" ? { delta: text ? { content: text } : {} } : { text };
  return withHead(head, { index, ...body, logprobs, ...end }, includeUsage);
}

/** The last chunk when stream_options.include_usage is set: no choices, the usage. */
export function usageChunk(head: ResponseHead, use: Usage): object {
  return { ...chunkHead(head), choices: [], usage: use };
}

function withHead(head: ResponseHead, choice: object, includeUsage: boolean): object {
  return { ...chunkHead(head), choices: [choice], ...(includeUsage ? { usage: null } : {}) };
}

function chunkHead(head: ResponseHead) {
  return { id: head.id, object: head.endpoint === "chat" ? "chat.completion.chunk" : "text_completion", created: head.created, model: head.model };
}

/**
 * Logprobs of one choice, in the endpoint's format: completions' {tokens, token_logprobs,
 * top_logprobs, text_offset}, chat's {content: [{token, logprob, bytes, top_logprobs}]}. Keeps the
 * text offset across calls, so a stream can write a token at a time.
 */
export class LogprobWriter {
  private readonly decoder = new TextDecoder("utf-8");
  private offset = 0;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly tokenizer: Tokenizer,
  ) {}

  write(entries: TokenLogprob[]): object {
    return this.endpoint === "chat" ? this.chat(entries) : this.completion(entries);
  }

  private chat(entries: TokenLogprob[]): object {
    const item = (token: number, logprob: number) => ({ token: this.tokenText(token), logprob, bytes: token < 256 ? [token] : null });
    return { content: entries.map((e) => ({ ...item(e.token, e.logprob), top_logprobs: e.top.map((t) => item(t.token, t.logprob)) })), refusal: null };
  }

  private completion(entries: TokenLogprob[]): object {
    const text_offset = entries.map((e) => this.advance(e.token));
    return {
      tokens: entries.map((e) => this.tokenText(e.token)),
      token_logprobs: entries.map((e) => e.logprob),
      // OpenAI and vLLM list the sampled token among the alternatives too
      top_logprobs: entries.map((e) => Object.fromEntries([...e.top, e].map((t) => [this.tokenText(t.token), t.logprob]))),
      text_offset,
    };
  }

  /** Offset of this token's text in the completion, then moves past it (whole characters only). */
  private advance(token: number): number {
    const at = this.offset;
    if (token < 256) this.offset += this.decoder.decode(Uint8Array.of(token), { stream: true }).length;
    return at;
  }

  private tokenText(token: number): string {
    if (token < 128) return String.fromCharCode(token);
    if (token < 256) return `bytes:\\x${token.toString(16).padStart(2, "0")}`;
    return this.tokenizer.decode([token], { keepSpecial: true });
  }
}
