import { spawn } from "node:child_process";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Engine } from "../../scripts/serve/engine.ts";
import { TextStream, type SequenceSpec } from "../../scripts/serve/sequence.ts";
import { chatTemplate } from "../../scripts/serve/requests.ts";
import { startServer, type RunningServer } from "../../scripts/serve/server.ts";
import { initBackend } from "../../trainer/backend.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../datasets/rng.ts";
import { promptTokens, sampleGroups, SamplerConfig } from "../../trainer/sampler.ts";
import { formatPrompt } from "../../trainer/prompt.ts";
import { tinyConfig } from "../helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const tokenizer = makeTokenizer("byte");
const CONTEXT = 64;
let model: Transformer;
let server: RunningServer;
let client: OpenAI;
const logged: string[] = [];

beforeAll(async () => {
  await initBackend("wasm");
  model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: CONTEXT }), 1);
  server = await startServer({ model, tokenizer, modelName: "tiny", port: 0, maxBatch: 16, log: (l) => logged.push(l) });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
});
afterAll(async () => {
  await server?.close();
  model?.dispose();
});

/** What the trainer's sampler draws for these prompts: the server must give exactly this. */
const sampled = (prompts: string[], n: number, maxTokens: number, seed: number, extra: Partial<SamplerConfig> = {}, m = model) =>
  sampleGroups(m, tokenizer, prompts, SamplerConfig.parse({ num_generations: n, max_new_tokens: maxTokens, ...extra }), seed);

const post = (route: string, body: unknown, init: RequestInit = {}) =>
  fetch(`${server.url}${route}`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "Content-Type": "application/json" }, ...init });

test("GET /v1/models lists the served model in OpenAI's list format", async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m);
  expect(models).toEqual([expect.objectContaining({ id: "tiny", object: "model", owned_by: "rlvr", max_model_len: CONTEXT })]);
  expect((await client.models.retrieve("tiny")).id).toBe("tiny");
});

test("completions equal the trainer's sampler with the same seed: n choices per prompt, usage, logprobs", async () => {
  const r = await client.completions.create({ model: "tiny", prompt: ["ab", "xyz"], n: 2, max_tokens: 10, seed: 7, temperature: 1, logprobs: 2 });
  const want = await sampled(["ab", "xyz"], 2, 10, 7);
  expect(r.object).toBe("text_completion");
  expect(r.choices.map((c) => [c.index, c.text, c.finish_reason])).toEqual(want.map((w, i) => [i, w.text, w.finishReason === "length" ? "length" : "stop"]));
  expect(r.usage).toEqual({ prompt_tokens: 3 + 4, completion_tokens: want.reduce((n, w) => n + w.tokens.length, 0), total_tokens: 7 + want.reduce((n, w) => n + w.tokens.length, 0) });
  r.choices.forEach((c, i) => {
    const lp = c.logprobs!;
    expect(lp.tokens).toHaveLength(want[i].tokens.length);
    // at temperature 1 without top-k/top-p the raw model distribution is the sampling distribution
    lp.token_logprobs!.forEach((l, t) => expect(l).toBeCloseTo(want[i].logprobs[t], 4));
    lp.top_logprobs!.forEach((top) => expect(Object.keys(top).length).toBeGreaterThanOrEqual(2));
    expect(lp.text_offset![0]).toBe(0);
  });
});

test("the same seed gives the same output; another seed another; greedy needs none", async () => {
  const ask = (seed?: number, temperature = 1) => client.completions.create({ model: "tiny", prompt: "hello", max_tokens: 12, seed, temperature }).then((r) => r.choices[0].text);
  expect(await ask(3)).toBe(await ask(3));
  expect(await ask(3)).not.toBe(await ask(4));
  expect(await ask(undefined, 0)).toBe((await sampled(["hello"], 1, 12, 0, { temperature: 0 }))[0].text);
  // no max_tokens: up to 256, as far as the context allows
  const long = await client.completions.create({ model: "tiny", prompt: "hello", seed: 1 });
  if (long.choices[0].finish_reason === "length") expect(long.usage?.completion_tokens).toBe(CONTEXT - 6);
});

test("chat: the template is each message's text and a newline (a training prompt for one user message), logprobs.content", async () => {
  expect(chatTemplate([{ role: "user", content: "What is 2+3?" }])).toBe(formatPrompt({ problem: "What is 2+3?" }));
  expect(chatTemplate([{ role: "system", content: "Be brief." }, { role: "user", content: [{ type: "text", text: "Hi" }] }])).toBe("Be brief.\nHi\n");
  const r = await client.chat.completions.create({
    model: "tiny",
    messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }],
    max_tokens: 8,
    seed: 1,
    n: 2,
    logprobs: true,
    top_logprobs: 3,
  });
  const want = await sampled(["Be brief.\nHi\n"], 2, 8, 1);
  expect(r.object).toBe("chat.completion");
  expect(r.choices.map((c) => [c.message.role, c.message.content])).toEqual(want.map((w) => ["assistant", w.text]));
  expect(r.usage?.prompt_tokens).toBe(1 + "Be brief.\nHi\n".length);
  const content = r.choices[0].logprobs!.content!;
  expect(content).toHaveLength(want[0].tokens.length);
  for (const t of content) {
    expect(t.top_logprobs).toHaveLength(3);
    expect(t.logprob).toBeLessThanOrEqual(t.top_logprobs[0].logprob + 1e-9);
    expect(t.top_logprobs.map((x) => x.logprob)).toEqual([...t.top_logprobs.map((x) => x.logprob)].sort((a, b) => b - a));
  }
});

test("streaming: the deltas add up to the non-streamed text with the same seed, then usage and [DONE]", async () => {
  const args = { model: "tiny", prompt: "stream me", n: 2, max_tokens: 16, seed: 11 } as const;
  const whole = await client.completions.create(args);
  const texts = ["", ""];
  const finish: (string | null)[] = [null, null];
  let usage;
  for await (const c of await client.completions.create({ ...args, stream: true, stream_options: { include_usage: true } })) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      texts[ch.index] += ch.text;
      finish[ch.index] ??= ch.finish_reason;
    }
  }
  expect(texts).toEqual(whole.choices.map((c) => c.text));
  expect(finish).toEqual(whole.choices.map((c) => c.finish_reason));
  expect(usage).toEqual(whole.usage);

  const chatArgs = { model: "tiny", messages: [{ role: "user" as const, content: "Hi" }], max_tokens: 16, seed: 2, logprobs: true, top_logprobs: 1 };
  const chat = await client.chat.completions.create(chatArgs);
  let text = "";
  let role;
  const logprobs = [];
  for await (const c of await client.chat.completions.create({ ...chatArgs, stream: true })) {
    role ??= c.choices[0]?.delta.role;
    text += c.choices[0]?.delta.content ?? "";
    logprobs.push(...(c.choices[0]?.logprobs?.content ?? []));
  }
  expect(role).toBe("assistant");
  expect(text).toBe(chat.choices[0].message.content);
  expect(logprobs).toEqual(chat.choices[0].logprobs!.content);
  const raw = await (await post("/v1/completions", { prompt: "x", max_tokens: 2, stream: true })).text();
  expect(raw.endsWith("data: [DONE]\n\n")).toBe(true);
});

test("stop strings cut the text before the first one, streamed or not (finish_reason stop, stop_reason names it)", async () => {
  const args = { model: "tiny", prompt: "abc", max_tokens: 40, seed: 5 };
  const full = (await client.completions.create(args)).choices[0].text;
  const at = [...full].findIndex((ch, i) => i > 0 && /[a-z0-9]/i.test(ch) && /[ -~]/.test(full[i + 1] ?? ""));
  expect(at).toBeGreaterThan(0);
  const stop = full.slice(at, at + 2);
  const want = full.slice(0, full.indexOf(stop));
  const r = await client.completions.create({ ...args, stop: [stop, "\u0001never"] });
  expect(r.choices[0]).toMatchObject({ text: want, finish_reason: "stop", stop_reason: stop });
  let streamed = "";
  for await (const c of await client.completions.create({ ...args, stop, stream: true })) streamed += c.choices[0]?.text ?? "";
  expect(streamed).toBe(want);
});

test("streamed text waits for whole UTF-8 characters and for tails that might begin a stop string", () => {
  const s = new TextStream(["XY"]);
  const out: string[] = [];
  for (const b of new TextEncoder().encode("aé")) (s.push(b), out.push(s.release()));
  expect(out).toEqual(["a", "", "é"]);
  s.push("X".charCodeAt(0));
  expect(s.release()).toBe(""); // "X" might start "XY"
  s.push("Z".charCodeAt(0));
  expect(s.release()).toBe("XZ");
  s.push("X".charCodeAt(0));
  s.push("Y".charCodeAt(0));
  expect(s.stopHit).toBe("XY");
  expect(s.finish()).toEqual({ text: "aéXZ", delta: "" });
});

test("concurrent requests are batched together and each gets exactly what it gets alone", async () => {
  const requests = [
    (c: OpenAI) => c.completions.create({ model: "tiny", prompt: "one", max_tokens: 9, seed: 1 }).then((r) => r.choices.map((x) => x.text)),
    (c: OpenAI) => c.completions.create({ model: "tiny", prompt: ["a much longer prompt here", "b"], n: 2, max_tokens: 6, seed: 2, top_p: 0.9 }).then((r) => r.choices.map((x) => x.text)),
    (c: OpenAI) => c.completions.create({ model: "tiny", prompt: "greedy", max_tokens: 12, temperature: 0 }).then((r) => r.choices.map((x) => x.text)),
    (c: OpenAI) => c.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "chat" }], max_tokens: 7, seed: 3, temperature: 0.7 }).then((r) => r.choices.map((x) => x.message.content)),
    async (c: OpenAI) => {
      let text = "";
      for await (const k of await c.completions.create({ model: "tiny", prompt: "streamed", max_tokens: 10, seed: 4, stream: true })) text += k.choices[0]?.text ?? "";
      return [text];
    },
    // top_k is vLLM's extension: the client passes unknown fields through
    (c: OpenAI) => c.completions.create({ model: "tiny", prompt: "top-k", max_tokens: 8, seed: 5, stop: "e", ...({ top_k: 5 } as object) }).then((r) => r.choices.map((x) => x.text)),
  ];
  const alone = [];
  for (const r of requests) alone.push(await r(client));
  // a server of its own, so its counters see only these requests
  const other = await startServer({ model, tokenizer, modelName: "tiny", port: 0 });
  try {
    const together = await Promise.all(requests.map((r) => r(new OpenAI({ baseURL: `${other.url}/v1`, apiKey: "x", maxRetries: 0 }))));
    expect(together).toEqual(alone);
    // more sequences in one step than any single request has (4): requests shared steps
    expect(other.stats().largestBatch).toBeGreaterThan(4);
  } finally {
    await other.close();
  }
});

test.each(["learned", "rope"])("sequences join a running batch (longer and shorter prompts) and leave it early without changing what they draw (%s positions)", async (positions) => {
  const m = positions === "learned" ? model : Transformer.init(tinyConfig({ vocab_size: 259, context_length: CONTEXT, positions }), 2);
  const spec = (prompt: string, maxTokens: number, seed: number): SequenceSpec => ({
    prompt: promptTokens(tokenizer, prompt), maxTokens, temperature: 1, topK: 0, topP: 1, stop: [], rng: Rng.forKeys(seed, 0, 0), topLogprobs: 0,
  });
  /** Resolves once a sequence has sampled n tokens. */
  const afterTokens = (n: number) => {
    let count = 0;
    let reached!: () => void;
    const promise = new Promise<void>((r) => (reached = r));
    return { onToken: () => void (++count === n && reached()), promise };
  };
  const jobs = [["a", 20, 1], ["a prompt longer than A is by now", 10, 2], ["c", 30, 3], ["d", 2, 4]] as const;
  const scenario = async () => {
    const engine = new Engine(m, tokenizer, { maxBatch: 8, collectMs: 0 });
    const a = afterTokens(3);
    const A = engine.generate(spec(...jobs[0]), a.onToken);
    await a.promise;
    const b = afterTokens(2);
    const B = engine.generate(spec(...jobs[1]), b.onToken); // longer than the cache: A's rows get left padding
    await b.promise;
    const rest = [engine.generate(spec(...jobs[2])), engine.generate(spec(...jobs[3]))]; // shorter than the cache; d leaves first
    const results = await Promise.all([A, B, ...rest]);
    await engine.close();
    return { results, largest: engine.stats.largestBatch };
  };
  const want = await Promise.all(jobs.map(([p, n, seed]) => sampled([p], 1, n, seed, {}, m)));
  await scenario(); // the model caches attention masks per shape on first use
  const before = tf.memory().numTensors;
  const { results, largest } = await scenario();
  expect(tf.memory().numTensors).toBe(before);
  expect(largest).toBe(4);
  results.forEach((r, i) => {
    expect(r.tokens).toEqual(want[i][0].tokens);
    r.logprobs!.forEach((l, t) => expect(l.logprob).toBeCloseTo(want[i][0].logprobs[t], 4));
  });
  if (m !== model) m.dispose();
});

test("a short request does not wait for a long generation to end: it decodes beside it", async () => {
  const long = (await client.completions.create({ model: "tiny", prompt: "long", max_tokens: 58, seed: 1, stream: true }))[Symbol.asyncIterator]();
  await long.next(); // the long one is decoding
  let longDone = false;
  const rest = (async () => {
    let finish;
    for (let c = await long.next(); !c.done; c = await long.next()) finish ??= c.value.choices[0]?.finish_reason;
    longDone = true;
    return finish;
  })();
  const short = await client.completions.create({ model: "tiny", prompt: "short", max_tokens: 2, seed: 1 });
  expect(short.choices[0].text).toBe((await sampled(["short"], 1, 2, 1))[0].text);
  expect(longDone).toBe(false);
  expect(await rest).toBe("length");
});

test("serving does not leak tensors", async () => {
  const round = async () => {
    await client.completions.create({ model: "tiny", prompt: ["leak?", "no"], n: 2, max_tokens: 8, seed: 1, logprobs: 1 });
    await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 8, seed: 1 });
    for await (const _ of await client.completions.create({ model: "tiny", prompt: "s", max_tokens: 8, seed: 2, stream: true }));
    await post("/v1/completions", { prompt: "x".repeat(CONTEXT) });
  };
  await round(); // the model caches attention masks per shape on first use
  const before = tf.memory().numTensors;
  await round();
  await round();
  expect(tf.memory().numTensors).toBe(before);
});

describe("bad requests get OpenAI-style JSON errors and the server keeps serving", () => {
  const cases: [string, () => Promise<Response>, number, Record<string, unknown>][] = [
    ["bad JSON", () => post("/v1/completions", "{nope"), 400, { code: "invalid_json" }],
    ["a body that is not an object", () => post("/v1/completions", "[1]"), 400, {}],
    ["an unknown route", () => fetch(`${server.url}/v1/embeddings`), 404, { code: "not_found" }],
    ["a wrong method", () => fetch(`${server.url}/v1/completions`), 405, { code: "method_not_allowed" }],
    ["no prompt", () => post("/v1/completions", { max_tokens: 3 }), 400, { param: "prompt", code: "missing_required_parameter" }],
    ["a prompt that is a number", () => post("/v1/completions", { prompt: 3 }), 400, { param: "prompt" }],
    ["temperature < 0", () => post("/v1/completions", { prompt: "x", temperature: -0.5 }), 400, { param: "temperature" }],
    ["n < 1", () => post("/v1/completions", { prompt: "x", n: 0 }), 400, { param: "n" }],
    ["top_p 0", () => post("/v1/completions", { prompt: "x", top_p: 0 }), 400, { param: "top_p" }],
    ["an empty stop string", () => post("/v1/completions", { prompt: "x", stop: [""] }), 400, { param: "stop.0" }],
    ["logprobs above 20", () => post("/v1/completions", { prompt: "x", logprobs: 21 }), 400, { param: "logprobs" }],
    ["echo", () => post("/v1/completions", { prompt: "x", echo: true }), 400, { param: "echo" }],
    ["a prompt longer than the context", () => post("/v1/completions", { prompt: "x".repeat(CONTEXT) }), 400, { param: "prompt", code: "context_length_exceeded" }],
    ["max_tokens beyond the context", () => post("/v1/completions", { prompt: "x", max_tokens: CONTEXT }), 400, { param: "max_tokens", code: "context_length_exceeded" }],
    ["an unknown model", () => post("/v1/completions", { prompt: "x", model: "gpt-4" }), 404, { param: "model", code: "model_not_found" }],
    ["no messages", () => post("/v1/chat/completions", { messages: [] }), 400, { param: "messages" }],
    ["a bad role", () => post("/v1/chat/completions", { messages: [{ role: "robot", content: "x" }] }), 400, { param: "messages.0.role" }],
    ["top_logprobs without logprobs", () => post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], top_logprobs: 2 }), 400, { param: "top_logprobs" }],
  ];
  test.each(cases)("%s", async (_name, send, status, fields) => {
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.headers.get("content-type")).toBe("application/json");
    const { error } = await r.json();
    expect(error).toMatchObject({ type: "invalid_request_error", ...fields });
    expect(typeof error.message).toBe("string");
    if (status === 405) expect(r.headers.get("allow")).toBe("POST");
  });

  test("the openai client sees them as its typed errors; the server still answers after", async () => {
    await expect(client.completions.create({ model: "nope", prompt: "x" })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.completions.create({ model: "tiny", prompt: "x", temperature: -1 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    expect((await client.completions.create({ model: "tiny", prompt: "x", max_tokens: 2 })).choices).toHaveLength(1);
  });
});

test("an internal failure is a 500 JSON error (stack logged) and the next request is served", async () => {
  const forward = model.forward;
  model.forward = () => {
    throw new Error("boom");
  };
  const before = tf.memory().numTensors;
  try {
    const r = await post("/v1/completions", { prompt: "x", max_tokens: 2 });
    expect(r.status).toBe(500);
    expect((await r.json()).error).toMatchObject({ type: "server_error", message: "internal error: boom" });
    // mid-stream the status is already sent: the error comes as an event before [DONE]
    const s = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], stream: true });
    expect(s.status).toBe(200);
    expect(await s.text()).toMatch(/data: \{"error":\{"message":"internal error: boom","type":"server_error".*\n\ndata: \[DONE\]\n\n$/);
  } finally {
    model.forward = forward;
  }
  expect(logged.some((l) => l.includes("Error: boom"))).toBe(true);
  expect(tf.memory().numTensors).toBe(before);
  expect((await client.completions.create({ model: "tiny", prompt: "x", max_tokens: 2 })).choices[0].finish_reason).toBeTruthy();
});

test("a client that hangs up mid-stream frees its place; others are unaffected", async () => {
  const abort = new AbortController();
  const r = await post("/v1/completions", { prompt: "bye", max_tokens: 60, stream: true }, { signal: abort.signal });
  const reader = r.body!.getReader();
  await reader.read();
  abort.abort();
  const before = server.stats().sequences;
  const ok = await client.completions.create({ model: "tiny", prompt: "still here", max_tokens: 4, seed: 1 });
  expect(ok.choices[0].text).toBe((await sampled(["still here"], 1, 4, 1))[0].text);
  expect(server.stats().sequences).toBeGreaterThan(before);
});

test("rlvr serve serves the shipped checkpoint: prints its URL, answers the openai client, stops on SIGTERM", async () => {
  const child = spawn(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), "serve", "checkpoints/arith-base", "--port", "0", "--backend", "wasm"], { cwd: ROOT });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const listening = new Promise<string>((resolve) =>
    child.stdout.on("data", () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    }),
  );
  const url = await Promise.race([listening, exited.then((code) => `exited with ${code}: ${out}`)]);
  try {
    expect(url).toMatch(/^http:/);
    const cli = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0, timeout: 30_000 });
    const r = await cli.chat.completions.create({ model: "arith-base", messages: [{ role: "user", content: "Ann has 3 pens. She buys 2 pens. How many pens now?" }], max_tokens: 24, temperature: 0 });
    expect(r.model).toBe("arith-base");
    expect(r.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
  } finally {
    child.kill("SIGTERM");
  }
  expect(await exited).toBe(0);
  expect(out).toContain("rlvr serve: shutting down");
});
