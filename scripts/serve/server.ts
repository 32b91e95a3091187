/**
 * `rlvr serve`'s HTTP server (Node's http, no framework): the OpenAI routes vLLM users call —
 * GET /v1/models, POST /v1/completions, POST /v1/chat/completions (JSON or server-sent events) —
 * plus GET /health. Requests are validated (requests.ts), decoded by the shared Engine and answered
 * in OpenAI's shapes (responses.ts). Every failure is a JSON error; nothing a client sends can
 * crash the server, or hold it: a request is capped in sequences and body size, the queue is
 * bounded (429 with Retry-After when full), and the engine shares the batch fairly between requests.
 */
import { randomInt } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Tokenizer } from "../../trainer/model/tokenizer.ts";
import type { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../datasets/rng.ts";
import { promptTokens } from "../../trainer/sampler.ts";
import { CancelledError, Engine, QueueFullError } from "./engine.ts";
import { readJson, requestPath, sendJson } from "./http.ts";
import type { SequenceSpec } from "./sequence.ts";
import { ApiError, checkSequences, parseChatRequest, parseCompletionRequest, tokenBudget, type GenerationRequest } from "./requests.ts";
import { chunk, LogprobWriter, responseBody, responseHead, roleChunk, usage, usageChunk, type Endpoint, type ResponseHead } from "./responses.ts";

export interface ServerOptions {
  model: Transformer;
  tokenizer: Tokenizer;
  /** The id clients pass as `model` (and /v1/models lists). */
  modelName: string;
  host?: string;
  /** 0 picks a free port; `url` tells which. */
  port?: number;
  /** Sequences decoded together at most. */
  maxBatch?: number;
  /** Idle wait before a decode round starts, so requests sent together are batched (ms). */
  collectMs?: number;
  /** Where internal errors are reported (their stack); the client gets only the message. */
  log?: (line: string) => void;
  /** What one request, and all of them together, may ask of the server (defaults: DEFAULT_LIMITS). */
  limits?: Partial<ServeLimits>;
}

export interface ServeLimits {
  /** Sequences one request may ask for: prompts × n (so its prompts too). */
  maxSequences: number;
  /** Sequences waiting for a place in the batch, all requests together; past it a request gets 429. */
  maxQueue: number;
  /** Request body size in bytes; past it a request gets 413. */
  maxBodyBytes: number;
}

/** vLLM's and TGI's kind of bounds: 2 prompts at n=128 in one request, 4 such requests waiting, 1 MiB of JSON. */
export const DEFAULT_LIMITS: ServeLimits = { maxSequences: 256, maxQueue: 1024, maxBodyBytes: 1 << 20 };

/** Seconds a client told 429 waits before retrying: long enough for some sequences of the queue to finish. */
const RETRY_AFTER_S = 1;

export interface RunningServer {
  /** http://host:port — the OpenAI base URL is url + "/v1". */
  url: string;
  port: number;
  /** The engine's counters: decode steps, sequences served, the largest batch decoded, sequences waiting now. */
  stats(): Engine["stats"] & { queued: number };
  /** Stops accepting, drops queued work, closes every connection; resolves when the model is no longer in use. */
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (limits.maxQueue < limits.maxSequences) throw new Error(`the queue (${limits.maxQueue} sequences) must hold one request of the most sequences allowed (${limits.maxSequences})`);
  const engine = new Engine(options.model, options.tokenizer, { maxBatch: options.maxBatch ?? 32, collectMs: options.collectMs, maxQueue: limits.maxQueue });
  const api = new Api(options, engine, limits);
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) =>
    api.handle(req, res).catch((err) => {
      // only a failure to write the error itself lands here: give up on this connection
      options.log?.(`rlvr serve: ${String(err)}`);
      res.destroy();
    });
  const server = http.createServer(handle);
  // Expect: 100-continue is answered by readJson once the headers pass, so a refused body is never sent
  server.on("checkContinue", handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8000, options.host ?? "127.0.0.1", resolve);
  });
  server.on("error", (err) => (options.log ?? console.error)(`rlvr serve: ${err.message}`)); // keep serving the connections that work
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === "IPv6" ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    stats: () => ({ ...engine.stats, queued: engine.queued }),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const idle = engine.close();
      server.closeAllConnections(); // in-flight sequences see their clients gone and stop
      await Promise.all([closed, idle]);
    },
  };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => Promise<void>;

class Api {
  private readonly routes: { match: (path: string) => boolean; methods: Record<string, Handler> }[];
  private readonly log: (line: string) => void;

  constructor(
    private readonly o: ServerOptions,
    private readonly engine: Engine,
    private readonly limits: ServeLimits,
  ) {
    this.log = o.log ?? ((line) => console.error(line));
    this.routes = [
      { match: (p) => p === "/v1/models", methods: { GET: async (_q, res) => sendJson(res, 200, { object: "list", data: [this.modelCard()] }) } },
      { match: (p) => p.startsWith("/v1/models/"), methods: { GET: async (_q, res, p) => sendJson(res, 200, this.modelCard(p.slice("/v1/models/".length))) } },
      { match: (p) => p === "/v1/completions", methods: { POST: (q, res) => this.generate("completion", q, res) } },
      { match: (p) => p === "/v1/chat/completions", methods: { POST: (q, res) => this.generate("chat", q, res) } },
      { match: (p) => p === "/health", methods: { GET: async (_q, res) => void res.writeHead(200).end() } },
    ];
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on("error", () => {}); // a client that hangs up mid-body: the read fails (handled below), the process must not
    try {
      const path = requestPath(req);
      const route = this.routes.find((r) => r.match(path));
      if (!route) throw new ApiError(404, `no route ${req.method} ${path}; this server has GET /v1/models, POST /v1/completions, POST /v1/chat/completions`, null, "not_found");
      const handler = route.methods[req.method ?? ""];
      if (!handler) {
        res.setHeader("Allow", Object.keys(route.methods).join(", "));
        throw new ApiError(405, `${path} does not accept ${req.method}; use ${Object.keys(route.methods).join(" or ")}`, null, "method_not_allowed");
      }
      await handler(req, res, path);
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private modelCard(id = this.o.modelName): object {
    this.checkModel(id);
    return { id, object: "model", created: 0, owned_by: "rlvr", root: id, parent: null, max_model_len: this.o.model.config.context_length };
  }

  private checkModel(name: string | undefined): void {
    if (name !== undefined && name !== this.o.modelName) {
      throw new ApiError(404, `the model "${name}" does not exist; this server serves "${this.o.modelName}"`, "model", "model_not_found");
    }
  }

  /** POST /v1/completions and /v1/chat/completions. */
  private async generate(endpoint: Endpoint, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readJson(req, res, this.limits.maxBodyBytes);
    const request = endpoint === "chat" ? parseChatRequest(body) : parseCompletionRequest(body);
    this.checkModel(request.model);
    checkSequences(request, this.limits.maxSequences);
    const { specs, promptTokenCount } = this.sequences(request);
    const head = responseHead(endpoint, this.o.modelName);
    const writers = request.logprobs === null ? null : specs.map(() => new LogprobWriter(endpoint, this.o.tokenizer));
    // one signal for the request: the client hanging up, or one of its sequences failing, drops the rest
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    res.on("error", () => abort.abort()); // a broken connection: stop decoding for it (and do not crash)
    try {
      if (request.stream) await this.stream(res, head, request, specs, writers, promptTokenCount, abort.signal);
      else {
        const results = await this.engine.submit(specs, {}, abort.signal);
        sendJson(res, 200, responseBody(head, results, writers, usage(promptTokenCount, results)));
      }
    } finally {
      abort.abort();
    }
  }

  /** One sequence per (prompt, choice), seeded as sampleGroups seeds them: (seed, prompt index, choice). */
  private sequences(request: GenerationRequest): { specs: SequenceSpec[]; promptTokenCount: number } {
    const context = this.o.model.config.context_length;
    const prompts = request.prompts.map((p) => promptTokens(this.o.tokenizer, p));
    const budgets = prompts.map((p) => tokenBudget(request, p.length, context));
    const seed = request.seed ?? randomInt(2 ** 32);
    const specs = prompts.flatMap((prompt, i) =>
      Array.from({ length: request.n }, (_, g) => ({
        prompt,
        maxTokens: budgets[i],
        temperature: request.temperature,
        topK: request.topK,
        topP: request.topP,
        stop: request.stop,
        rng: Rng.forKeys(seed, i, g),
        topLogprobs: request.logprobs,
      })),
    );
    return { specs, promptTokenCount: prompts.reduce((n, p) => n + p.length, 0) };
  }

  /** Server-sent events: a chunk per token that released text (or has logprobs), a last one per choice, [DONE]. */
  private async stream(
    res: http.ServerResponse,
    head: ResponseHead,
    request: GenerationRequest,
    specs: SequenceSpec[],
    writers: LogprobWriter[] | null,
    promptTokenCount: number,
    signal: AbortSignal,
  ): Promise<void> {
    // a client that hung up is noticed through the abort signal; writing to it meanwhile is skipped
    const send = (data: object | string) => void (res.destroyed || res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`));
    const withUsage = request.includeUsage;
    // queued before the 200 goes out, so a full queue is still a 429; tokens come only after this turn
    const done = this.engine.submit(
      specs,
      {
        onToken: (i, e) => {
          const lp = e.logprob && writers ? writers[i].write([e.logprob]) : null;
          if (e.delta || lp) send(chunk(head, i, e.delta, lp, null, withUsage));
        },
        onDone: (i, r) => send(chunk(head, i, r.delta, null, r, withUsage)),
      },
      signal,
    );
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive" });
    if (head.endpoint === "chat") specs.forEach((_, i) => send(roleChunk(head, i, withUsage)));
    const results = await done;
    if (withUsage) send(usageChunk(head, usage(promptTokenCount, results)));
    send("[DONE]");
    res.end();
  }

  /** Any error → OpenAI's error JSON (or, mid-stream, an error event), never a crash. */
  private fail(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    if (res.destroyed) return; // the client is gone; nothing to tell
    const error = this.apiError(err);
    if (res.headersSent) {
      res.end(`data: ${JSON.stringify(error.body())}\n\ndata: [DONE]\n\n`);
      return;
    }
    const headers: Record<string, string> = {};
    if (error.status === 429) headers["Retry-After"] = String(RETRY_AFTER_S);
    // a body left unread (refused before or while reading it) is not drained: the connection closes after the reply
    if (hasBody(req) && !req.complete) headers.Connection = "close";
    sendJson(res, error.status, error.body(), headers);
  }

  private apiError(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (err instanceof QueueFullError) return new ApiError(429, `${err.message}; retry after ${RETRY_AFTER_S} s`, null, "queue_full", "rate_limit_error");
    if (err instanceof CancelledError) return new ApiError(503, err.message, null, "unavailable", "server_error");
    return this.internal(err);
  }

  private internal(err: unknown): ApiError {
    this.log(`rlvr serve: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return new ApiError(500, `internal error: ${err instanceof Error ? err.message : String(err)}`, null, "internal_error");
  }
}

function hasBody(req: http.IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}
