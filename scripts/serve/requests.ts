/**
 * The request side of the OpenAI API as `rlvr serve` accepts it: validation of /v1/completions and
 * /v1/chat/completions bodies into one `GenerationRequest`, the chat template, and `ApiError`, the
 * 4xx/5xx error every failure becomes. Unknown fields are ignored (as vLLM does); known fields this
 * server cannot honour (echo, penalties, logit_bias, tools…) are refused rather than ignored, so
 * nobody gets silently different sampling than they asked for.
 */
import { z } from "zod";

/** An error the client sees as `{error: {message, type, param, code}}` with this HTTP status. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status >= 500 ? "server_error" : "invalid_request_error",
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** What both endpoints come down to: prompts and how to sample them. */
export interface GenerationRequest {
  model?: string;
  prompts: string[];
  /** The field the prompts came from, for errors: "prompt" or "messages". */
  promptParam: "prompt" | "messages";
  n: number;
  /** null = as much as the context allows, up to DEFAULT_MAX_TOKENS. */
  maxTokens: number | null;
  temperature: number;
  topP: number;
  topK: number;
  stop: string[];
  /** null = a fresh random seed. */
  seed: number | null;
  stream: boolean;
  includeUsage: boolean;
  /** Alternatives reported per token, or null for no logprobs at all. */
  logprobs: number | null;
}

export const DEFAULT_MAX_TOKENS = 256;
/** vLLM's default max_logprobs. */
export const MAX_LOGPROBS = 20;
const MAX_N = 128;

/** A zod error callback: "is required" when absent, else the expectation. */
const must = (what: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : `must be ${what}`) });
const int = (what: string) => z.int(must(what));
const nonEmpty = z.string(must("a non-empty string")).min(1, { error: "must be a non-empty string" });

/** Fields shared by both endpoints; sampling defaults follow OpenAI's. */
const sampling = {
  model: z.string(must("a string")).optional(),
  n: int("an integer from 1 to 128").min(1, must("at least 1")).max(MAX_N, must(`at most ${MAX_N}`)).default(1),
  max_tokens: int("a positive integer").min(1, must("at least 1")).nullish(),
  temperature: z.number(must("a number ≥ 0")).min(0, must("at least 0 (0 = greedy)")).nullish(),
  top_p: z.number(must("a number in (0, 1]")).gt(0, must("greater than 0")).max(1, must("at most 1")).nullish(),
  top_k: int("an integer (0 or -1 = off)").min(-1, must("at least -1 (0 or -1 = off)")).nullish(),
  stop: z.union([nonEmpty, z.array(nonEmpty)], must("a non-empty string or an array of them")).nullish(),
  seed: int("an integer").nullish(),
  stream: z.boolean(must("a boolean")).nullish(),
  stream_options: z.object({ include_usage: z.boolean(must("a boolean")).nullish() }, must("an object")).nullish(),
  // accepted at their no-op values only
  presence_penalty: z.literal(0, must("0 (penalties are not supported)")).nullish(),
  frequency_penalty: z.literal(0, must("0 (penalties are not supported)")).nullish(),
  logit_bias: z.record(z.string(), z.never(), must("empty (logit_bias is not supported)")).nullish(),
};

const CompletionBody = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).min(1)], must("a string or a non-empty array of strings")),
  logprobs: int(`an integer from 0 to ${MAX_LOGPROBS}`).min(0, must("at least 0")).max(MAX_LOGPROBS, must(`at most ${MAX_LOGPROBS}`)).nullish(),
  echo: z.literal(false, must("false (echo is not supported)")).nullish(),
  suffix: z.null(must("null (suffix is not supported)")).optional(),
  best_of: int("an integer").nullish(),
});

const TextPart = z.object({ type: z.literal("text", must('"text" (only text content is supported)')), text: z.string(must("a string")) });
const Message = z.object({
  role: z.enum(["system", "developer", "user", "assistant"], must('"system", "developer", "user" or "assistant"')),
  content: z.union([z.string(), z.array(TextPart), z.null()], must("a string or an array of text parts")),
});
export type ChatMessage = z.infer<typeof Message>;

const ChatBody = z.object({
  ...sampling,
  messages: z.array(Message, must("a non-empty array of messages")).min(1, must("a non-empty array of messages")),
  max_completion_tokens: int("a positive integer").min(1, must("at least 1")).nullish(),
  logprobs: z.boolean(must("a boolean")).nullish(),
  top_logprobs: int(`an integer from 0 to ${MAX_LOGPROBS}`).min(0, must("at least 0")).max(MAX_LOGPROBS, must(`at most ${MAX_LOGPROBS}`)).nullish(),
  tools: z.array(z.unknown()).max(0, must("empty (tools are not supported)")).nullish(),
  response_format: z.object({ type: z.literal("text", must('"text" (structured output is not supported)')) }).nullish(),
});

/**
 * The chat template. Our byte-level base models were trained on prompts `formatPrompt` makes —
 * the problem text and a newline — so a conversation becomes each message's text followed by
 * "\n", in order, whatever its role (roles have no markers the model could know). One user
 * message "Q" gives "Q\n", exactly a training prompt.
 */
export function chatTemplate(messages: ChatMessage[]): string {
  return messages.map((m) => `${messageText(m)}\n`).join("");
}

function messageText(m: ChatMessage): string {
  if (m.content === null) return "";
  return typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("");
}

/** A /v1/completions body → GenerationRequest, or a 400 ApiError naming the field. */
export function parseCompletionRequest(body: unknown): GenerationRequest {
  const b = parse(CompletionBody, body);
  if (b.best_of != null && b.best_of !== b.n) throw new ApiError(400, `best_of must equal n (${b.n}): best-of selection is not supported`, "best_of");
  return {
    ...common(b),
    prompts: typeof b.prompt === "string" ? [b.prompt] : b.prompt,
    promptParam: "prompt",
    maxTokens: b.max_tokens ?? null,
    logprobs: b.logprobs ?? null,
  };
}

/** A /v1/chat/completions body → GenerationRequest (one prompt, through the chat template). */
export function parseChatRequest(body: unknown): GenerationRequest {
  const b = parse(ChatBody, body);
  if (b.top_logprobs != null && !b.logprobs) throw new ApiError(400, "top_logprobs needs logprobs: true", "top_logprobs");
  return {
    ...common(b),
    prompts: [chatTemplate(b.messages)],
    promptParam: "messages",
    maxTokens: b.max_completion_tokens ?? b.max_tokens ?? null,
    logprobs: b.logprobs ? (b.top_logprobs ?? 0) : null,
  };
}

type Common = Omit<GenerationRequest, "prompts" | "promptParam" | "maxTokens" | "logprobs">;

function common(b: z.infer<z.ZodObject<typeof sampling>>): Common {
  return {
    model: b.model,
    n: b.n,
    temperature: b.temperature ?? 1,
    topP: b.top_p ?? 1,
    topK: Math.max(0, b.top_k ?? 0),
    stop: b.stop == null ? [] : typeof b.stop === "string" ? [b.stop] : b.stop,
    seed: b.seed ?? null,
    stream: b.stream ?? false,
    includeUsage: b.stream_options?.include_usage ?? false,
  };
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ApiError(400, "the request body must be a JSON object");
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = issue.path.join(".");
  throw new ApiError(400, `${param}: ${issue.message}`, param, issue.message === "is required" ? "missing_required_parameter" : "invalid_value");
}

/**
 * A request asks for prompts × n sequences; more than `max` is a 400 naming the field to lower
 * (the prompts alone, or n), as vLLM and TGI cap a request rather than queue it for minutes.
 */
export function checkSequences(req: GenerationRequest, max: number): void {
  const count = req.prompts.length;
  if (count > max) {
    throw new ApiError(400, `${req.promptParam}: ${count} prompts is more than this server's ${max} sequences per request (--max-sequences)`, req.promptParam, "too_many_sequences");
  }
  if (count * req.n > max) {
    throw new ApiError(400, `n: ${count} prompts × n=${req.n} is ${count * req.n} sequences, more than this server's ${max} per request (--max-sequences); lower n to ${Math.floor(max / count)} or less`, "n", "too_many_sequences");
  }
}

/**
 * The token budget of one prompt of `promptTokens` tokens: max_tokens as asked, or up to
 * DEFAULT_MAX_TOKENS of what the context leaves. A prompt that fills the context, or an explicit
 * max_tokens beyond it, is a 400 (as vLLM answers), never a silently shorter completion.
 */
export function tokenBudget(req: GenerationRequest, promptTokens: number, context: number): number {
  const room = context - promptTokens;
  if (room < 1) {
    throw new ApiError(400, `the ${req.promptParam} take ${promptTokens} tokens, which leaves no room in this model's context of ${context} tokens`, req.promptParam, "context_length_exceeded");
  }
  if (req.maxTokens === null) return Math.min(DEFAULT_MAX_TOKENS, room);
  if (req.maxTokens > room) {
    throw new ApiError(
      400,
      `this model's maximum context length is ${context} tokens; you asked for ${promptTokens + req.maxTokens} (${promptTokens} in the ${req.promptParam}, ${req.maxTokens} in the completion): lower max_tokens to ${room} or less`,
      "max_tokens",
      "context_length_exceeded",
    );
  }
  return req.maxTokens;
}
