/**
 * `rlvr serve` under load: places in the batch are shared between requests, so a small request is
 * served while a maximal one is still running (ordering only: no wall-clock numbers; the latency
 * figures come from scripts/serve/load.ts).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Engine } from "../../scripts/serve/engine.ts";
import { Job, JobQueue, QueueFullError } from "../../scripts/serve/queue.ts";
import type { SequenceSpec } from "../../scripts/serve/sequence.ts";
import { startServer, type RunningServer } from "../../scripts/serve/server.ts";
import { initBackend } from "../../trainer/backend.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../datasets/rng.ts";
import { promptTokens, sampleGroups, SamplerConfig } from "../../trainer/sampler.ts";
import { tinyConfig } from "../helpers.ts";

const tokenizer = makeTokenizer("byte");
const CONTEXT = 32;
const MAX_BATCH = 4;
/** The most sequences one request may ask for on the server under test. */
const MAX_SEQUENCES = 16;
let model: Transformer;
let server: RunningServer;

beforeAll(async () => {
  await initBackend("wasm");
  model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: CONTEXT }), 1);
  server = await startServer({ model, tokenizer, modelName: "tiny", port: 0, maxBatch: MAX_BATCH, limits: { maxSequences: MAX_SEQUENCES, maxQueue: 2 * MAX_SEQUENCES } });
});
afterAll(async () => {
  await server?.close();
  model?.dispose();
});

const spec = (prompt: string, maxTokens: number, seed = 1): SequenceSpec => ({
  prompt: promptTokens(tokenizer, prompt), maxTokens, temperature: 1, topK: 0, topP: 1, stop: [], rng: Rng.forKeys(seed, 0, 0), topLogprobs: null,
});

test("a free place goes to the waiting request with the fewest sequences running, not to the oldest", () => {
  const queue = new JobQueue(12);
  const big = new Job(Array.from({ length: 8 }, () => spec("big", 4)), {});
  queue.add(big);
  expect(queue.take(2).map((t) => t.index)).toEqual([0, 1]);
  const small = new Job([spec("small", 2)], {});
  const other = new Job([spec("o", 2), spec("o", 2)], {});
  queue.add(small);
  queue.add(other);
  // small and other run nothing yet: they come first, then the jobs alternate by how many each runs
  expect(queue.take(4).map((t) => [t.job === big ? "big" : t.job === small ? "small" : "other", t.index])).toEqual([["small", 0], ["other", 0], ["other", 1], ["big", 2]]);
  expect(queue.size).toBe(5);
  expect(() => queue.add(new Job(Array.from({ length: 8 }, () => spec("x", 1)), {}))).toThrow(QueueFullError);
  expect(queue.size).toBe(5);
});

test("while a maximal request is decoding, a small one is answered before it, ahead of the maximal one's waiting sequences", async () => {
  const post = (body: object) => fetch(`${server.url}/v1/completions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  // the maximal request: prompts × n at the cap, max_tokens to the end of the context
  const big = await post({ prompt: ["a", "b"], n: MAX_SEQUENCES / 2, max_tokens: CONTEXT - 2, seed: 3, stream: true });
  const reader = big.body!.getReader();
  await reader.read(); // it is decoding
  let bigDone = false;
  // caught, so that a failing assertion below reports itself rather than an unhandled rejection at close
  const drained = (async () => {
    while (!(await reader.read()).done);
    bigDone = true;
  })().catch((err: Error) => err);
  const before = server.stats().sequences;
  expect((await fetch(`${server.url}/health`)).status).toBe(200); // the loop yields: other requests are accepted meanwhile
  const small = await (await post({ prompt: "small", max_tokens: 2, seed: 1 })).json();
  const { sequences, queued } = server.stats();
  expect(small.choices[0].text).toBe((await sampleGroups(model, tokenizer, ["small"], SamplerConfig.parse({ num_generations: 1, max_new_tokens: 2 }), 1))[0].text);
  expect(bigDone).toBe(false);
  // FIFO would start the small one only after every sequence of the maximal one had started
  expect(queued).toBeGreaterThan(0);
  expect(sequences).toBeLessThan(before + MAX_SEQUENCES);
  expect(await drained).toBeUndefined();
  expect(bigDone).toBe(true);
});

test("a request whose callback throws fails alone; the requests batched with it are served", async () => {
  const engine = new Engine(model, tokenizer, { maxBatch: 8, collectMs: 0 });
  const failing = engine.submit([spec("a", 6, 1), spec("b", 6, 2)], {
    onToken: () => {
      throw new Error("client writer broke");
    },
  });
  const fine = engine.submit([spec("c", 6, 3)]);
  await expect(failing).rejects.toThrow("client writer broke");
  const [r] = await fine;
  const want = await sampleGroups(model, tokenizer, ["c"], SamplerConfig.parse({ num_generations: 1, max_new_tokens: 6 }), 3);
  expect(r.tokens).toEqual(want[0].tokens);
  await engine.close();
});
