/**
 * `rlvr serve`'s HTTP server (Node's http, no framework): the OpenAI routes vLLM users call —
 * GET /v1/models, POST /v1/completions, POST /v1/chat/completions (JSON or server-sent events) —
 * plus GET /health. Requests are validated (requests.ts), decoded by the shared Engine and answered
 * in OpenAI's shapes (responses.ts). Every failure is a JSON error; nothing a client sends can
 * crash the server.
 */
import { randomInt } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Tokenizer } from "../../trainer/model/tokenizer.ts";
import type { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../trainer/rng.ts";
import { promptTokens } from "../../trainer/sampler.ts";
import { CancelledError, Engine } from "./engine.ts";
import type { SequenceResult, SequenceSpec, TokenEvent } from "./sequence.ts";
import { ApiError, parseChatRequest, parseCompletionRequest, tokenBudget, type GenerationRequest } from "./requests.ts";
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
}

export interface RunningServer {
  /** http://host:port — the OpenAI base URL is url + "/v1". */
  url: string;
  port: number;
  /** The engine's counters: decode steps, sequences served, the largest batch decoded. */
  stats(): Engine["stats"];
  /** Stops accepting, drops queued work, closes every connection; resolves when the model is no longer in use. */
  close(): Promise<void>;
}

/** Request bodies above this are refused (413): prompts fit a context of a few hundred bytes. */
const MAX_BODY_BYTES = 4 << 20;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const engine = new Engine(options.model, options.tokenizer, { maxBatch: options.maxBatch ?? 32, collectMs: options.collectMs });
  const api = new Api(options, engine);
  const server = http.createServer((req, res) => {
    api.handle(req, res).catch((err) => {
      // only a failure to write the error itself lands here: give up on this connection
      options.log?.(`rlvr serve: ${String(err)}`);
      res.destroy();
    });
  });
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
    stats: () => ({ ...engine.stats }),
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
  ) {
    this.log = o.log ?? ((line) => console.error(line));
    this.routes = [
      { match: (p) => p === "/v1/models", methods: { GET: async (_q, res) => sendJson(res, 200, { object: "list", data: [this.modelCard()] }) } },
      { match: (p) => p.startsWith("/v1/models/"), methods: { GET: async (_q, res, p) => sendJson(res, 200, this.modelCard(decodeURIComponent(p.slice("/v1/models/".length)))) } },
      { match: (p) => p === "/v1/completions", methods: { POST: (q, res) => this.generate("completion", q, res) } },
      { match: (p) => p === "/v1/chat/completions", methods: { POST: (q, res) => this.generate("chat", q, res) } },
      { match: (p) => p === "/health", methods: { GET: async (_q, res) => void res.writeHead(200).end() } },
    ];
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? "/", "http://x").pathname.replace(/\/+$/, "") || "/";
      const route = this.routes.find((r) => r.match(path));
      if (!route) throw new ApiError(404, `no route ${req.method} ${path}; this server has GET /v1/models, POST /v1/completions, POST /v1/chat/completions`, null, "not_found");
      const handler = route.methods[req.method ?? ""];
      if (!handler) {
        res.setHeader("Allow", Object.keys(route.methods).join(", "));
        throw new ApiError(405, `${path} does not accept ${req.method}; use ${Object.keys(route.methods).join(" or ")}`, null, "method_not_allowed");
      }
      await handler(req, res, path);
    } catch (err) {
      this.fail(res, err);
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
    const body = await readJson(req);
    const request = endpoint === "chat" ? parseChatRequest(body) : parseCompletionRequest(body);
    this.checkModel(request.model);
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
        const results = await Promise.all(specs.map((s) => this.engine.generate(s, undefined, abort.signal)));
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
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive" });
    // a client that hung up is noticed through the abort signal; writing to it meanwhile is skipped
    const send = (data: object | string) => void (res.destroyed || res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`));
    const withUsage = request.includeUsage;
    if (head.endpoint === "chat") specs.forEach((_, i) => send(roleChunk(head, i, withUsage)));
    const onToken = (i: number) => (e: TokenEvent) => {
      const lp = e.logprob && writers ? writers[i].write([e.logprob]) : null;
      if (e.delta || lp) send(chunk(head, i, e.delta, lp, null, withUsage));
    };
    const results = await Promise.all(
      specs.map(async (s, i): Promise<SequenceResult> => {
        const r = await this.engine.generate(s, onToken(i), signal);
        send(chunk(head, i, r.delta, null, r, withUsage));
        return r;
      }),
    );
    if (withUsage) send(usageChunk(head, usage(promptTokenCount, results)));
    send("[DONE]");
    res.end();
  }

  /** Any error → OpenAI's error JSON (or, mid-stream, an error event), never a crash. */
  private fail(res: http.ServerResponse, err: unknown): void {
    if (res.destroyed) return; // the client is gone; nothing to tell
    const error = err instanceof ApiError ? err : err instanceof CancelledError ? new ApiError(503, err.message, null, "unavailable", "server_error") : this.internal(err);
    if (res.headersSent) {
      res.end(`data: ${JSON.stringify(error.body())}\n\ndata: [DONE]\n\n`);
      return;
    }
    sendJson(res, error.status, error.body());
  }

  private internal(err: unknown): ApiError {
    this.log(`rlvr serve: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return new ApiError(500, `internal error: ${err instanceof Error ? err.message : String(err)}`, null, "internal_error");
  }
}

function sendJson(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** The request body as JSON; a 400 when it is not, a 413 when it is too large. */
async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `the request body is larger than ${MAX_BODY_BYTES >> 20} MiB`, null, "body_too_large");
    parts.push(part);
  }
  const text = Buffer.concat(parts).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `the request body is not valid JSON: ${(err as Error).message}`, null, "invalid_json");
  }
}
