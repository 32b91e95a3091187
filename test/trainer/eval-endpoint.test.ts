/**
 * The endpoint client against small fake OpenAI-style servers: max_tokens fitted to the context the
 * server reports, one sample's refusal or outage recorded as that sample's error (not the run's), and
 * the failures that must still end a run (a wrong model name or key, an endpoint that never answers).
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { contextOverflow, EndpointError, EndpointPolicy, ENDPOINT_DEFAULTS, type EndpointOptions } from "../../trainer/eval/endpoint.ts";
import { evaluate, formatSummary } from "../../trainer/eval/evaluate.ts";
import type { SamplingParams } from "../../trainer/policy.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-eval-endpoint-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
const outFile = () => path.join(tmp, `results-${++fileNo}.jsonl`);

type Wording = "openai" | "vllm-new";

interface FakeOptions {
  /** The context the server enforces; reported in /v1/models unless `report` is false. */
  context: number;
  report?: boolean;
  wording?: Wording;
  /** The status a prompt gets instead of an answer (e.g. 502 for prompts that mention "down"). */
  failWith?: (content: string) => number | null;
}

interface Seen {
  content: string;
  maxTokens: number;
  status: number;
}

/**
 * A vLLM-like server: counts a prompt as its bytes plus one (a chat template's newline), refuses a
 * request whose prompt + max_tokens pass the context with vLLM's wording, and otherwise "generates"
 * max_tokens tokens of `\boxed{4}` padding (finish_reason length).
 */
async function fakeServer(o: FakeOptions) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (req.method === "GET") {
        if (req.url !== "/v1/models" || o.report === false) return send(404, { error: { message: "Not Found" } });
        return send(200, { object: "list", data: [{ id: "m", object: "model", max_model_len: o.context }] });
      }
      const b = JSON.parse(body) as { model: string; messages: { content: string }[]; max_tokens: number };
      const content = b.messages[0].content;
      const P = Buffer.byteLength(content) + 1;
      const C = o.context;
      const refuse = (status: number, message: string) => {
        seen.push({ content, maxTokens: b.max_tokens, status });
        send(status, { error: { message, type: "BadRequestError", code: status } });
      };
      if (b.model !== "m") return refuse(404, `The model \`${b.model}\` does not exist.`);
      const failure = o.failWith?.(content);
      if (failure) return refuse(failure, `failing on purpose with ${failure}`);
      if (P >= C) return refuse(400, `This model's maximum context length is ${C} tokens. However, your request has ${P} input tokens. Please reduce the length of the input messages.`);
      if (P + b.max_tokens > C) {
        return refuse(400, o.wording === "vllm-new"
          ? `'max_tokens' or 'max_completion_tokens' is too large: ${b.max_tokens}. This model's maximum context length is ${C} tokens and your request has ${P} input tokens (${b.max_tokens} > ${C} - ${P}).`
          : `This model's maximum context length is ${C} tokens. However, you requested ${P + b.max_tokens} tokens (${P} in the messages, ${b.max_tokens} in the completion). Please reduce the length of the messages or completion.`);
      }
      seen.push({ content, maxTokens: b.max_tokens, status: 200 });
      send(200, { choices: [{ index: 0, message: { role: "assistant", content: "\\boxed{4}" }, finish_reason: "length" }], usage: { prompt_tokens: P, completion_tokens: b.max_tokens, total_tokens: P + b.max_tokens } });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
  return { url, seen, close: () => { server.closeAllConnections(); server.close(); } };
}

const client = (url: string, extra: Partial<EndpointOptions> = {}) =>
  new EndpointPolicy({ ...ENDPOINT_DEFAULTS, baseUrl: url, model: "m", api: "chat", concurrency: 1, timeoutMs: 10_000, backoffMs: 1, maxBackoffMs: 2, sleep: async () => {}, ...extra });
const params: SamplingParams = { n: 3, temperature: 1, top_p: 1, max_tokens: 2048, stop: [], seed: 0 };
const settings = { dataset: "test", model: "m", k: 2, temperature: 1, top_p: 1, max_tokens: 2048, template: "{problem}", seed: 0, api: "chat" };
const row = (i: number, problem: string): Row => ({ problem, answer: "4", unique_id: `q${i}`, level: 1 });

describe("max_tokens fitted to the model's context", () => {
  test.each(["openai", "vllm-new"] as const)("a budget past the context is cut to what the prompt leaves, counted by the server (%s wording)", async (wording) => {
    const srv = await fakeServer({ context: 64, wording });
    try {
      const policy = client(srv.url);
      expect(await policy.probe()).toEqual({ models: ["m"], maxModelLen: 64 });
      const prompts = ["2+2?", "what is two plus two?"];
      const out = await policy.generate(prompts.map((prompt, key) => ({ prompt, key })), params);
      prompts.forEach((prompt, i) => {
        const room = 64 - (prompt.length + 1);
        for (const g of out[i]) expect(g).toEqual({ text: "\\boxed{4}", tokens: room, finishReason: "length", maxTokens: room });
        // first ask min(2048, 64): refused, asked again with the room; the prompt's count is kept for its other samples
        expect(srv.seen.filter((s) => s.content === prompt).map((s) => [s.status, s.maxTokens])).toEqual([[400, 64], [200, room], [200, room], [200, room]]);
      });
    } finally {
      srv.close();
    }
  });

  test("without max_model_len (no /v1/models) the room is learned from the first refusal", async () => {
    const srv = await fakeServer({ context: 48, report: false });
    try {
      const policy = client(srv.url);
      expect(await policy.probe()).toEqual({ models: [], maxModelLen: null });
      const [[a, b]] = await policy.generate([{ prompt: "1+3?", key: 0 }], { ...params, n: 2 });
      expect([a.maxTokens, b.maxTokens]).toEqual([43, 43]);
      expect(srv.seen.map((s) => [s.status, s.maxTokens])).toEqual([[400, 2048], [200, 43], [200, 43]]);
    } finally {
      srv.close();
    }
  });

  test("a budget that fits is sent as asked", async () => {
    const srv = await fakeServer({ context: 4096 });
    try {
      const policy = client(srv.url);
      await policy.probe();
      const [[g]] = await policy.generate([{ prompt: "2+2?", key: 0 }], { ...params, n: 1, max_tokens: 32 });
      expect(g.maxTokens).toBeUndefined();
      expect(srv.seen.map((s) => s.maxTokens)).toEqual([32]);
    } finally {
      srv.close();
    }
  });

  test("the refusal wordings of OpenAI / older vLLM, newer vLLM and rlvr serve are read; others are not", () => {
    expect(contextOverflow("This model's maximum context length is 4096 tokens. However, you requested 4200 tokens (200 in the messages, 4000 in the completion). Please reduce the length of the messages or completion.")).toEqual({ context: 4096, promptTokens: 200 });
    expect(contextOverflow("'max_tokens' or 'max_completion_tokens' is too large: 2048. This model's maximum context length is 2048 tokens and your request has 33 input tokens (2048 > 2048 - 33).")).toEqual({ context: 2048, promptTokens: 33 });
    expect(contextOverflow("this model's maximum context length is 256 tokens; you asked for 2090 (42 in the prompt, 2048 in the completion): lower max_tokens to 214 or less")).toEqual({ context: 256, promptTokens: 42 });
    expect(contextOverflow("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 100 `inputs` tokens and 5000 `max_new_tokens`")).toBeNull();
  });
});

describe("one sample's failure is that sample's, not the run's", () => {
  test("a prompt longer than the context is an error in the results and the summary; --resume asks for it again", async () => {
    const srv = await fakeServer({ context: 64 });
    try {
      const rows = [row(0, "2+2?"), row(1, "x".repeat(80)), row(2, "1+3?")];
      const out = outFile();
      const s = await evaluate({ rows, policy: client(srv.url, { sampleErrors: "record" }), settings, out, resume: false });
      const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.id, l.correct])).toEqual([["q0", true], ["q0", true], ["q1", false], ["q1", false], ["q2", true], ["q2", true]]);
      expect(lines[2]).toMatchObject({ reason: "error", completion: "", tokens: 0, extracted: null });
      expect(lines[2].error).toMatch(/HTTP 400 .*maximum context length is 64 tokens. However, your request has 81 input tokens/);
      expect(lines[0].error).toBeUndefined();
      expect(lines[0].max_tokens).toBe(59);
      expect(s.overall.errors).toBe(2);
      expect(s.overall["pass@1"]).toBeCloseTo(2 / 3, 12); // the failed problem counts as wrong
      expect(s.overall.mean_tokens).toBe(59); // over the samples drawn
      expect(s.capped).toBe(4);
      const table = formatSummary(s);
      expect(table.split("\n")[0]).toMatch(/trunc %\s+errors$/);
      expect(table).toContain(`errors: 2 of 6 samples failed and count as incorrect (each one's "error" in ${out} says why`);
      expect(table).toContain("max_tokens cut to fit the model's context for 4 of 6 samples");

      const before = srv.seen.length;
      const again = await evaluate({ rows, policy: client(srv.url, { sampleErrors: "record" }), settings, out, resume: true });
      expect(new Set(srv.seen.slice(before).map((s) => s.content))).toEqual(new Set(["x".repeat(80)]));
      expect(again.overall).toEqual(s.overall);
      expect(fs.readFileSync(out, "utf8").trim().split("\n")).toHaveLength(6);
    } finally {
      srv.close();
    }
  });

  test("a 5xx after every retry fails that sample; a chunk in which no request got an answer stops the run", async () => {
    const srv = await fakeServer({ context: 4096, failWith: (c) => (c.includes("down") ? 502 : null) });
    try {
      const out = outFile(); // promptsPerCall(2) = 2 with concurrency 2: both problems in one chunk
      const s = await evaluate({ rows: [row(0, "2+2?"), row(1, "down?")], policy: client(srv.url, { sampleErrors: "record", maxRetries: 2, concurrency: 2 }), settings: { ...settings, max_tokens: 8 }, out, resume: false });
      expect(s.overall.errors).toBe(2);
      const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines[2].error).toMatch(/gave up after 3 attempts: HTTP 502 .*failing on purpose with 502/);
      expect(srv.seen.filter((x) => x.content === "down?")).toHaveLength(6); // 2 samples × 3 attempts

      // promptsPerCall(2) = 1 with concurrency 1: the first problem answers, the second's chunk has no answer at all
      const stopped = outFile();
      const err = await evaluate({ rows: [row(0, "2+2?"), row(1, "down?"), row(2, "1+3?")], policy: client(srv.url, { sampleErrors: "record", maxRetries: 1 }), settings: { ...settings, max_tokens: 8 }, out: stopped, resume: false }).catch((e) => e);
      expect(err).toBeInstanceOf(EndpointError);
      expect(err.message).toMatch(/gave up after 2 attempts: HTTP 502 .*; no request of the last 2 got an answer, so the evaluation stopped .*rerun with --resume/);
      expect(fs.readFileSync(stopped, "utf8").trim().split("\n").map((l) => JSON.parse(l).id)).toEqual(["q0", "q0"]);
    } finally {
      srv.close();
    }
  });

  test("a 400 of another kind fails only its sample; without sampleErrors: record the call still rejects", async () => {
    const srv = await fakeServer({ context: 4096, failWith: (c) => (c.includes("bad") ? 422 : null) });
    try {
      const requests = [{ prompt: "good", key: 0 }, { prompt: "bad", key: 1 }];
      const [[good], [bad]] = await client(srv.url, { sampleErrors: "record" }).generate(requests, { ...params, n: 1, max_tokens: 8 });
      expect(good.error).toBeUndefined();
      expect(bad).toMatchObject({ text: "", tokens: 0, error: expect.stringMatching(/HTTP 422 .*failing on purpose with 422/) });
      expect(bad.unavailable).toBeUndefined();
      await expect(client(srv.url).generate(requests, { ...params, n: 1, max_tokens: 8 })).rejects.toThrow(/HTTP 422/);
    } finally {
      srv.close();
    }
  });
});

describe("failures that end the run", () => {
  test("a model name the server does not serve (404) rejects, naming the models it lists", async () => {
    const srv = await fakeServer({ context: 64 });
    try {
      const policy = client(srv.url, { model: "nope", sampleErrors: "record" });
      expect((await policy.probe()).models).toEqual(["m"]);
      const err = await policy.generate([{ prompt: "2+2?", key: 0 }], { ...params, n: 1 }).catch((e) => e);
      expect(err).toBeInstanceOf(EndpointError);
      expect(err.message).toMatch(/HTTP 404 .*The model `nope` does not exist. \(.*\/v1\/models lists "m"\)/);
    } finally {
      srv.close();
    }
  });

  test("an endpoint nobody answers at fails the probe, before any sample, after its retries", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const retries: string[] = [];
    const policy = client(`http://127.0.0.1:${port}/v1`, { maxRetries: 1, onRetry: (r) => retries.push(r.why) });
    const err = await policy.probe().catch((e) => e);
    expect(err).toBeInstanceOf(EndpointError);
    expect(err.unavailable).toBe(true);
    expect(err.message).toMatch(new RegExp(`gave up after 2 attempts: cannot reach http://127.0.0.1:${port}/v1/models: fetch failed \\(.*ECONNREFUSED`));
    expect(retries).toHaveLength(1);
  });

  test("a wrong API key (401 on /v1/models) fails the probe at once", async () => {
    const srv = http.createServer((_, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "Incorrect API key provided" } }));
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const port = (srv.address() as { port: number }).port;
      await expect(client(`http://127.0.0.1:${port}/v1`, { apiKey: "sk-wrong-key" }).probe()).rejects.toThrow(/^HTTP 401 from .*\/v1\/models: Incorrect API key provided$/);
    } finally {
      srv.closeAllConnections();
      srv.close();
    }
  });
});
