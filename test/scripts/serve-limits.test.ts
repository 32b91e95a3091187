/** `rlvr serve` stays up: what a request may ask (sequences, body size, content type, URL), the bounded queue, and no crash whatever is sent. */
import { spawn } from "node:child_process";
import http from "node:http";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startServer, type RunningServer } from "../../scripts/serve/server.ts";
import { initBackend } from "../../trainer/backend.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { tinyConfig } from "../helpers.ts";

const tokenizer = makeTokenizer("byte");
let model: Transformer;
/** A server with the default limits. */
let server: RunningServer;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  await initBackend("wasm");
  model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 64 }), 1);
  server = await startServer({ model, tokenizer, modelName: "tiny", port: 0, log: () => {} });
});
afterAll(async () => {
  await server?.close();
  model?.dispose();
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

const post = (url: string, body: string | object, headers: Record<string, string> = { "Content-Type": "application/json" }) =>
  fetch(`${url}/v1/completions`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });

/** A GET with the path sent exactly as written (fetch would not, for some). */
const rawGet = (url: string, path: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(`${url}/`, { method: "GET", path }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });

/** The server still decodes: a small completion is answered. */
async function stillServes(url = server.url): Promise<void> {
  const r = await post(url, { prompt: "ok", max_tokens: 2, seed: 1 });
  expect(r.status).toBe(200);
  expect((await r.json()).choices).toHaveLength(1);
}

describe("a request may ask for at most --max-sequences sequences (400 naming the field)", () => {
  test.each([
    ["more prompts than the cap (n=1)", { prompt: Array(257).fill(""), n: 1 }, "prompt", /prompt: 257 prompts .* 256 sequences per request/],
    ["prompts × n past the cap", { prompt: ["a", "b", "c"], n: 128 }, "n", /n: 3 prompts × n=128 is 384 sequences, .* lower n to 85/],
  ])("%s", async (_name, body, param, message) => {
    const r = await post(server.url, { ...body, max_tokens: 1 });
    expect(r.status).toBe(400);
    const { error } = await r.json();
    expect(error).toMatchObject({ param, code: "too_many_sequences", type: "invalid_request_error" });
    expect(error.message).toMatch(message);
    await stillServes();
  });

  test("the cap is the server's: a lower --max-sequences refuses a smaller request, and the request at the cap is served", async () => {
    const small = await startServer({ model, tokenizer, modelName: "tiny", port: 0, limits: { maxSequences: 4, maxQueue: 4 } });
    try {
      const over = await post(small.url, { prompt: ["a", "b"], n: 3, max_tokens: 1 });
      expect(over.status).toBe(400);
      expect((await over.json()).error.param).toBe("n");
      const at = await post(small.url, { prompt: ["a", "b"], n: 2, max_tokens: 1 });
      expect((await at.json()).choices).toHaveLength(4);
    } finally {
      await small.close();
    }
  });
});

describe("the body limit holds while the body is read (413)", () => {
  test("a 4 MB body is refused (declared by Content-Length) and the server still serves", async () => {
    const r = await post(server.url, { prompt: "x".repeat(4_000_000) });
    expect(r.status).toBe(413);
    expect((await r.json()).error).toMatchObject({ code: "body_too_large" });
    expect(r.headers.get("connection")).toBe("close"); // the unread rest is not drained
    await stillServes();
  });

  test("a client that asks first (Expect: 100-continue) is refused before it sends the body; a small one is let in", async () => {
    const ask = (length: number, body: string) =>
      new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
        let continued = false;
        const req = http.request(`${server.url}/v1/completions`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "Content-Length": String(length), Expect: "100-continue" },
        });
        req.on("continue", () => ((continued = true), req.end(body)));
        req.on("response", (res) => (res.resume(), res.on("end", () => resolve({ status: res.statusCode!, continued }))));
        req.on("error", reject);
        req.flushHeaders();
      });
    expect(await ask(4_000_000, "")).toEqual({ status: 413, continued: false });
    const small = JSON.stringify({ prompt: "x", max_tokens: 1 });
    expect(await ask(Buffer.byteLength(small), small)).toEqual({ status: 200, continued: true });
  });

  test("a body that never ends is refused once past the limit, not read to its end", async () => {
    let sent = 0;
    const endless = new ReadableStream({
      pull(c) {
        sent += 1 << 16;
        c.enqueue(new Uint8Array(1 << 16).fill(32));
      },
    });
    const limited = await startServer({ model, tokenizer, modelName: "tiny", port: 0, limits: { maxBodyBytes: 1000 } });
    try {
      const r = await fetch(`${limited.url}/v1/completions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: endless, duplex: "half" } as RequestInit);
      expect(r.status).toBe(413);
      expect((await r.json()).error.message).toMatch(/larger than this server's limit of 1000 bytes/);
      await stillServes(limited.url);
    } finally {
      await limited.close();
    }
    expect(sent).toBeGreaterThan(1000);
  });
});

describe("POST bodies must be Content-Type: application/json (415)", () => {
  test.each([
    ["text/plain (a CORS-simple request)", { "Content-Type": "text/plain" }],
    ["form-encoded (curl -d without -H)", { "Content-Type": "application/x-www-form-urlencoded" }],
    ["no Content-Type", {}],
  ])("%s", async (_name, headers) => {
    const r = await post(server.url, JSON.stringify({ prompt: "x", max_tokens: 1 }), headers);
    expect(r.status).toBe(415);
    expect((await r.json()).error).toMatchObject({ code: "unsupported_media_type", message: expect.stringMatching(/^Content-Type must be application\/json/) });
    // application/json with parameters, in any case, is JSON
    const ok = await post(server.url, JSON.stringify({ prompt: "x", max_tokens: 1 }), { "Content-Type": "Application/JSON; charset=utf-8" });
    expect(ok.status).toBe(200);
  });
});

test.each(["/v1/models/%ZZ", "/v1/models%ZZ", "/v1/models?x=%ZZ", "/health?%E0%A4%A"])("a malformed percent-escape is a 400, not a 500: GET %s", async (path) => {
  const r = await rawGet(server.url, path);
  expect(r.status).toBe(400);
  expect(JSON.parse(r.body).error).toMatchObject({ code: "invalid_url", type: "invalid_request_error" });
  await stillServes();
});

test("a full queue answers 429 with Retry-After at once; the server keeps answering", async () => {
  // the engine waits a long while before its first step, so what is queued stays queued
  const busy = await startServer({ model, tokenizer, modelName: "tiny", port: 0, collectMs: 2 ** 30, limits: { maxSequences: 4, maxQueue: 6 } });
  const queued = post(busy.url, { prompt: ["a", "b"], n: 2, max_tokens: 1 }).catch(() => null); // answered only at close
  try {
    while (busy.stats().queued < 4) await new Promise((r) => setTimeout(r, 5));
    const r = await post(busy.url, { prompt: "c", n: 3, max_tokens: 1 });
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("1");
    expect((await r.json()).error).toMatchObject({ code: "queue_full", type: "rate_limit_error", message: expect.stringMatching(/4 sequences are waiting and this request adds 3/) });
    const client = new OpenAI({ baseURL: `${busy.url}/v1`, apiKey: "x", maxRetries: 0 });
    await expect(client.completions.create({ model: "tiny", prompt: ["d", "e", "f"], max_tokens: 1 })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    expect(busy.stats().queued).toBe(4); // nothing of the refused requests was queued
    expect((await fetch(`${busy.url}/health`)).status).toBe(200);
    expect((await (await fetch(`${busy.url}/v1/models`)).json()).data[0].max_model_len).toBe(64);
  } finally {
    await busy.close();
  }
  await queued;
});

test("rlvr serve: the limits are flags, documented in --help and checked in one line", async () => {
  const ROOT = path.resolve(import.meta.dirname, "../..");
  const rlvr = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), "serve", ...args], { cwd: ROOT });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("close", (code) => resolve({ code, out }));
    });
  const help = await rlvr(["--help"]);
  for (const flag of ["--max-sequences", "--max-queue", "--max-body-bytes"]) expect(help.out).toContain(flag);
  const bad = await rlvr(["checkpoints/arith-base", "--max-sequences", "64", "--max-queue", "32"]);
  expect(bad.code).toBe(1);
  expect(bad.out).toBe("rlvr serve: --max-queue (32) must be at least --max-sequences (64), or the largest request could never be queued\n");
});
