import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { initBackend } from "../../trainer/backend.ts";
import { GrpoConfig } from "../../trainer/grpo.ts";
import { saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { OptimizerConfig } from "../../trainer/optimizer.ts";
import { SamplerConfig, sampleGroups } from "../../trainer/sampler.ts";
import { GrpoRunConfig, GrpoTrainConfig, runGrpo, type GrpoOptions } from "../../trainer/grpo-trainer.ts";
import { chunks, layoutOf, sumSlots } from "../../trainer/parallel/allreduce.ts";
import { sampleSharded } from "../../trainer/parallel/data-parallel.ts";
import { WorkerError, WorkerPool } from "../../trainer/parallel/workers.ts";
import { RunStoppedError } from "../../trainer/run-loop.ts";
import { lowercase, splitRunOptions } from "../run-fixtures.ts";
import { tinyConfig, withoutTimes } from "../helpers.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-parallel-"));
const tok = new ByteTokenizer();
const base = path.join(tmp, "base");
const config = tinyConfig({ vocab_size: 259, context_length: 32 });
beforeAll(async () => {
  await initBackend("wasm");
  const model = Transformer.init(config, 1);
  saveCheckpoint(base, model, { step: 0 });
  model.dispose();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// prompts of different lengths, so a rank's batch pads differently from the whole step's
const rows: Row[] = Array.from({ length: 12 }, (_, i) => ({ problem: `p${"q".repeat(i % 4)}${i}`, answer: "" }));

function options(name: string, steps: number, extra: Record<string, unknown> = {}): GrpoOptions {
  const { config: c, io } = splitRunOptions(extra);
  const train = (c.train ?? {}) as Record<string, unknown>;
  return {
    config: GrpoRunConfig.parse({
      name, seed: 7, base,
      grpo: GrpoConfig.parse({ num_generations: 4, max_completion_length: 6, loss_type: "dapo" }),
      optimizer: OptimizerConfig.parse({ lr: 1e-2, schedule: "cosine", weight_decay: 0.01 }),
      output_dir: tmp,
      ...c,
      train: GrpoTrainConfig.parse({ steps, prompts_per_step: 3, micro_batch_size: 4, save_every: 3, keep_last: 5, log_every: 100, eval_every: 5, ...train }),
      eval: { k: 3, max_new_tokens: 4 },
    }),
    tokenizer: tok, verifiers: [{ verifier: lowercase, weight: 1 }], resume: false, log: () => {},
    ...io,
  };
}
// eval_every 5 with k 3: held-out samples are drawn over the ranks too
const evalRows: Row[] = Array.from({ length: 5 }, (_, i) => ({ problem: `e${i}`, answer: "a" }));
const metrics = (run: string) => fs.readFileSync(path.join(tmp, run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => withoutTimes(JSON.parse(l)));

test("chunks cut n items into contiguous runs, the first ranks taking the remainder", () => {
  expect(chunks(7, 3)).toEqual([[0, 3], [3, 5], [5, 7]]);
  expect(chunks(1, 2)).toEqual([[0, 1], [1, 1]]);
});

test("the slot sum adds in slot order in float32 and leaves out tensors no slot has", () => {
  const layout = layoutOf(new Map([["a", [2]], ["b", [1]]]));
  const slots = Float32Array.from([1e8, 1, 5, 1, 2, 6, -1e8, 3, 7]);
  const sum = sumSlots(layout, slots, [[true, false], [true, false], [true, false]]);
  // (1e8 + 1) rounds to 1e8 in float32, so the order shows: ((1e8 + 1) + -1e8) = 0
  expect([...sum.get("a")!]).toEqual([0, 6]);
  expect(sum.has("b")).toBe(false);
});

test("sampling over 2 ranks draws the same completions as one rank", async () => {
  const model = Transformer.init(config, 3);
  const pool = await WorkerPool.start(model, { workers: 2, grpo: GrpoConfig.parse({}) });
  try {
    const sampler = SamplerConfig.parse({ num_generations: 3, max_new_tokens: 8 });
    const prompts = ["a", "a longer prompt", "bc", "d", "ef"];
    const one = await sampleGroups(model, tok, prompts, sampler, 11);
    const two = await sampleSharded(pool, { model, tokenizer: tok, sampler }, prompts, 11);
    expect(two.map((c) => [c.group, c.sample, c.text, c.tokens])).toEqual(one.map((c) => [c.group, c.sample, c.text, c.tokens]));
    two.forEach((c, i) => c.logprobs.forEach((lp, j) => expect(lp).toBeCloseTo(one[i].logprobs[j], 5)));
    expect(new Set(one.map((c) => c.text)).size).toBeGreaterThan(3);
  } finally {
    await pool.close();
    model.dispose();
  }
  expect(pool.alive).toBe(0);
});

test("GRPO on 2 ranks reproduces 1 rank's metrics over 10 steps (held-out evaluations included); the replica keeps the main model's weights and its tensor count", async () => {
  await runGrpo(rows, options("one", 10, { evalRows }));
  const watched: Promise<[number, number, boolean]>[] = [];
  const mainLive: number[] = [];
  await runGrpo(rows, options("two", 10, {
    evalRows,
    train: { workers: 2 },
    onWorkers: (pool: WorkerPool, model: Transformer) => (watchedPool = { pool, model }),
    progress: {
      update: (step: number) => {
        // after the last step the run closes its pool: a request sent then would find it gone
        if (step === 10) return;
        const { pool, model } = watchedPool!;
        const mine = model.values();
        mainLive.push(tf.memory().numTensors - (model as unknown as { maskCache: Map<string, unknown> }).maskCache.size);
        watched.push(Promise.all([pool.request(1, { type: "values" }), pool.request(1, { type: "memory" })]).then(([theirs, mem]) =>
          [step, mem.numTensors - mem.cachedMasks, theirs.every(([name, v]) => v.length === mine.get(name)!.length && v.every((x, i) => Object.is(x, mine.get(name)![i])))]));
      },
    },
  }));
  const [one, two] = [metrics("one"), metrics("two")];
  expect(two.length).toBe(10);
  two.forEach((line, s) => {
    expect(Object.keys(line).sort()).toEqual(Object.keys(one[s]).sort());
    for (const [k, v] of Object.entries(one[s])) expect(Math.abs(line[k] - v), `step ${s + 1} ${k}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
  });
  expect(new Set(one.map((l) => l.loss)).size).toBeGreaterThan(5);
  expect(two.filter((l) => l["eval/accuracy"] !== undefined).map((l) => l.step)).toEqual([5, 10]);
  const seen = await Promise.all(watched);
  expect(seen.map(([step]) => step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(seen.every(([, , same]) => same)).toBe(true);
  expect(new Set(seen.slice(1).map(([, n]) => n)).size).toBe(1);
  expect(new Set(mainLive.slice(1)).size).toBe(1);
  // the same checkpoints
  const ckpt = (run: string) => fs.readFileSync(path.join(tmp, run, "checkpoints", "step-000010", "model.safetensors"));
  expect(ckpt("two").equals(ckpt("one"))).toBe(true);
});
let watchedPool: { pool: WorkerPool; model: Transformer } | undefined;

test("a worker that dies stops the run with an error naming it, keeps the last checkpoint, and leaves no thread behind", async () => {
  let pool: WorkerPool | undefined;
  const run = runGrpo(rows, options("dies", 10, {
    train: { workers: 2 },
    onWorkers: (p: WorkerPool) => (pool = p),
    progress: { update: (step: number) => void (step === 4 && pool!.request(1, { type: "fail" })) },
  }));
  const err = await run.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RunStoppedError);
  expect(String((err as Error).message)).toMatch(/step 5: worker 1 of 2 \(thread \d+\) died: injected failure in worker 1.*the last good checkpoint is .*step-0*3 /);
  expect(pool!.alive).toBe(0);
  expect(fs.readdirSync(path.join(tmp, "dies", "checkpoints")).sort()).toEqual(["step-000003"]);
  expect(metrics("dies").length).toBe(4);
});

test("a worker that exits fails every request after it with a WorkerError", async () => {
  const model = Transformer.init(config, 3);
  const pool = await WorkerPool.start(model, { workers: 3, grpo: GrpoConfig.parse({}) });
  try {
    // as if the thread ended on its own (an abort, a native crash)
    await (pool as unknown as { ranks: { worker: { terminate(): Promise<number> } }[] }).ranks[1].worker.terminate();
    await expect(pool.request(2, { type: "memory" })).rejects.toThrow(/worker 2 of 3 .*exited \(code 1\)/);
    await expect(pool.request(2, { type: "memory" })).rejects.toBeInstanceOf(WorkerError);
    expect((await pool.request(1, { type: "memory" })).numTensors).toBeGreaterThan(0);
  } finally {
    const late = expect(pool.request(1, { type: "values" })).rejects.toThrow(/worker 1 of 3 .*was stopped: its pool was closed/);
    await pool.close();
    await late;
    model.dispose();
  }
  expect(pool.alive).toBe(0);
});
