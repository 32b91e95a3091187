import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import type { Verifier } from "../../verifiers/types.ts";
import { initBackend } from "../../trainer/backend.ts";
import { GrpoConfig } from "../../trainer/grpo.ts";
import { batchLogProbs } from "../../trainer/lm.ts";
import { loadCheckpoint, saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { OptimizerConfig } from "../../trainer/optimizer.ts";
import { completionBatch } from "../../trainer/completion-batch.ts";
import { SamplerConfig, sampleGroups } from "../../trainer/sampler.ts";
import { GrpoRunConfig, GrpoTrainConfig, runGrpo, type GrpoOptions } from "../../trainer/grpo-trainer.ts";
import { lowercase, splitRunOptions } from "../run-fixtures.ts";
import { tinyConfig, withoutTimes } from "../helpers.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-grpo-"));
const tok = new ByteTokenizer();
const base = path.join(tmp, "base");
beforeAll(async () => {
  await initBackend("wasm");
  const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 32 }), 1);
  saveCheckpoint(base, model, { step: 0 });
  model.dispose();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rows: Row[] = Array.from({ length: 8 }, (_, i) => ({ problem: `p${i}`, answer: "" }));

function options(name: string, steps: number, extra: Record<string, unknown> = {}): GrpoOptions {
  const { config, io } = splitRunOptions(extra);
  return {
    config: GrpoRunConfig.parse({
      name, seed: 5, base,
      grpo: GrpoConfig.parse({ num_generations: 8, max_completion_length: 6, loss_type: "dapo" }),
      optimizer: OptimizerConfig.parse({ lr: 1e-2, schedule: "constant", weight_decay: 0 }),
      train: GrpoTrainConfig.parse({ steps, prompts_per_step: 4, save_every: 2, keep_last: 2, log_every: 100 }),
      output_dir: tmp,
      ...config,
    }),
    tokenizer: tok, verifiers: [{ verifier: lowercase, weight: 1 }], resume: false, log: () => {},
    ...io,
  };
}
const metrics = (run: string) => fs.readFileSync(path.join(tmp, run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

test("the completion batch's log-probs equal the sampler's (temperature 1), with prompts of different lengths", async () => {
  const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 32 }), 2);
  const prompts = ["a", "longer prompt"];
  const completions = await sampleGroups(model, tok, prompts, SamplerConfig.parse({ num_generations: 2, max_new_tokens: 5 }), 3);
  const batch = completionBatch(tok, prompts, completions);
  const logp = tf.tidy(() => batchLogProbs(model, batch, false).logp);
  const table = logp.arraySync() as number[][];
  const mask = batch.mask.arraySync() as number[][];
  completions.forEach((c, b) => {
    c.logprobs.forEach((lp, j) => expect(table[b][j]).toBeCloseTo(lp, 4));
    expect(mask[b].reduce((a, x) => a + x, 0)).toBe(c.tokens.length);
  });
  tf.dispose([logp, batch.tokens, batch.targets, batch.mask]);
  model.dispose();
});

test("GRPO raises a learnable reward and logs TRL's metric names", async () => {
  await runGrpo(rows, options("learn", 24));
  const m = metrics("learn");
  expect(m.length).toBe(24);
  for (const key of ["reward", "reward_std", "frac_reward_zero_std", "rewards/lowercase/mean", "loss", "grad_norm", "learning_rate", "completions/mean_length", "completions/clipped_ratio", "clip_ratio/region_mean", "entropy", "num_tokens", "step_time", "moe/max_violation", "moe/load/1/0"]) {
    expect(m[0], key).toHaveProperty([key]);
  }
  // verl's timing split: each part measured, together no more than the whole step
  for (const r of m) {
    const parts = ["timing_s/gen", "timing_s/reward", "timing_s/old_log_prob", "timing_s/ref", "timing_s/update_actor"].map((k) => r[k]);
    for (const p of parts) expect(p).toBeGreaterThanOrEqual(0);
    expect(r["timing_s/gen"]).toBeGreaterThan(0);
    expect(r["timing_s/update_actor"]).toBeGreaterThan(0);
    expect(parts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(r.step_time + 1e-6);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(m.slice(0, 4).map((r) => r.reward));
  const last = mean(m.slice(-4).map((r) => r.reward));
  expect(m[0].entropy).toBeGreaterThan(0);
  expect(last).toBeGreaterThan(first + 0.2);
});

test("each step writes its completions table as Arrow IPC that an independent reader opens", async () => {
  const { tableFromIPC } = await import("@uwdata/flechette");
  await runGrpo(rows, options("table", 2));
  const dir = path.join(tmp, "table/completions");
  expect(fs.readdirSync(dir)).toEqual(["step-000001.arrow", "step-000002.arrow"]);
  const t = tableFromIPC(fs.readFileSync(path.join(dir, "step-000002.arrow")));
  expect(t.numRows).toBe(4 * 8);
  expect(t.schema.fields.map((f) => f.name)).toEqual(["step", "prompt", "completion", "rewards/lowercase", "reward", "advantage", "truncated"]);
  const rowsOut = t.toArray() as Record<string, unknown>[];
  expect(rowsOut.every((r) => r.step === 2)).toBe(true);
  const lines = metrics("table");
  const meanReward = rowsOut.reduce((s, r) => s + (r.reward as number), 0) / rowsOut.length;
  expect(meanReward).toBeCloseTo(lines[1].reward, 5);
  for (const r of rowsOut) expect(r["rewards/lowercase"]).toBeCloseTo(r.reward as number, 6);
});

test("the same seed gives the same run; a resumed run matches an unbroken one", async () => {
  await runGrpo(rows, options("a", 4));
  await runGrpo(rows, options("b", 4));
  expect(metrics("b").map(withoutTimes)).toEqual(metrics("a").map(withoutTimes));
  await runGrpo(rows, options("c", 2));
  await runGrpo(rows, options("c", 4, { resume: true }));
  expect(metrics("c").map(withoutTimes)).toEqual(metrics("a").map(withoutTimes));
});

test("GRPO steps leave no tensors behind", async () => {
  await runGrpo(rows, options("leak1", 1));
  const before = tf.memory().numTensors;
  await runGrpo(rows, options("leak2", 3, { grpo: GrpoConfig.parse({ num_generations: 4, max_completion_length: 4, num_iterations: 2 }) }));
  expect(tf.memory().numTensors).toBe(before);
});

test("dynamic sampling drops groups without a reward signal and samples more prompts", async () => {
  // rows marked flat always get reward 1: their groups have zero std and must be dropped
  const flatOrLowercase: Verifier = { name: "mixed", verify: (c, row) => (row.flat ? { reward: 1, reason: "flat" } : lowercase.verify(c, row, { timeoutMs: 1000 })) as never };
  const mixed: Row[] = rows.map((r, i) => ({ ...r, flat: i % 2 === 0 }));
  await runGrpo(mixed, options("ds", 2, { verifiers: [{ verifier: flatOrLowercase, weight: 1 }], train: GrpoTrainConfig.parse({ steps: 2, prompts_per_step: 4, dynamic_sampling: true, max_generation_rounds: 3 }) }));
  const m = metrics("ds");
  expect(m[0]["dynamic_sampling/dropped_groups"]).toBeGreaterThan(0);
  expect(m[0]["dynamic_sampling/groups"]).toBe(4);
  expect(m[0]["dynamic_sampling/rounds"]).toBeGreaterThan(1);
});

test("with beta > 0 the KL to the frozen base is logged: 0 before the first update, positive after", async () => {
  await runGrpo(rows, options("kl", 3, { grpo: GrpoConfig.parse({ num_generations: 8, max_completion_length: 6, beta: 0.1, entropy_coef: 0.01 }) }));
  const m = metrics("kl");
  expect(m[0].kl).toBeCloseTo(0, 6);
  expect(m[2].kl).toBeGreaterThan(0);
  expect(m[0].entropy).toBeGreaterThan(0);
});

test("non-finite losses skip updates and stop the run after max_bad_steps, keeping the last checkpoint", async () => {
  const poisoned = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 32 }), 1);
  const w = poisoned.params.get("ln_f.weight")!;
  // finite weights (a checkpoint with NaN weights is refused) whose forward pass overflows to NaN
  w.assign(tf.fill(w.shape, 3e38));
  const nanBase = path.join(tmp, "nan-base");
  saveCheckpoint(nanBase, poisoned, { step: 0 });
  poisoned.dispose();
  const lines: string[] = [];
  await expect(runGrpo(rows, options("nan", 5, { base: nanBase, log: (l: string) => lines.push(l), train: GrpoTrainConfig.parse({ steps: 5, prompts_per_step: 2, max_bad_steps: 2, save_every: 1, max_abs_weight: 1e39 }) })))
    .rejects.toThrow("2 consecutive steps had a non-finite loss or gradient; stopping at step 2; no checkpoint of this run was saved");
  expect(fs.readdirSync(path.join(tmp, "nan", "checkpoints"))).toEqual([]);
  expect(lines.filter((l) => l.includes("update skipped")).length).toBe(2);
  expect(metrics("nan").map((r) => r.skipped_updates)).toEqual([1, 1]);
});

test.each(["dapo", "grpo", "dr_grpo"] as const)("%s: micro-batches of 8 give the same update as the whole step of 32 at once", async (lossType) => {
  const run = async (name: string, micro: number) => {
    // eps = 1 keeps Adam's update smooth in the gradient (with eps ≈ 0 a gradient of ±1e-9 moves a weight by ±lr)
    await runGrpo(rows, options(name, 1, {
      grpo: GrpoConfig.parse({ num_generations: 8, max_completion_length: 6, loss_type: lossType, num_iterations: 2 }),
      optimizer: OptimizerConfig.parse({ lr: 0.1, eps: 1, schedule: "constant", weight_decay: 0 }),
      train: GrpoTrainConfig.parse({ steps: 1, prompts_per_step: 4, save_every: 1, keep_last: 1, micro_batch_size: micro }),
    }));
    const { model } = loadCheckpoint(path.join(tmp, name, "checkpoints", "step-000001"));
    const values = new Map(model.values());
    model.dispose();
    return { values, m: metrics(name) };
  };
  const whole = await run(`whole-${lossType}`, 0);
  const micro = await run(`micro-${lossType}`, 8);
  let maxDiff = 0;
  let moved = 0;
  for (const [name, w] of whole.values) {
    const v = micro.values.get(name)!;
    for (let i = 0; i < w.length; i++) maxDiff = Math.max(maxDiff, Math.abs(w[i] - v[i]));
  }
  const { model: start } = loadCheckpoint(base);
  for (const [name, w] of start.values()) for (let i = 0; i < w.length; i++) moved = Math.max(moved, Math.abs(w[i] - whole.values.get(name)![i]));
  start.dispose();
  expect(moved).toBeGreaterThan(1e-3); // the updates did something
  expect(maxDiff).toBeLessThan(1e-3 * moved);
  for (const key of ["loss", "grad_norm", "aux_loss", "clip_ratio/region_mean", "moe/load/1/0", "moe/router_entropy"]) {
    expect(micro.m[0][key], key).toBeCloseTo(whole.m[0][key], 4);
  }
});

test.each(["dapo", "grpo", "dr_grpo"] as const)("%s: skip_zero_advantage gives the same update as training on every completion (dense model)", async (lossType) => {
  const dense = path.join(tmp, `dense-${lossType}`);
  const init = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 32, moe_layers: [] }), 3);
  saveCheckpoint(dense, init, { step: 0 });
  init.dispose();
  // p0 and p1 always score 1 (groups without signal); the others score their lowercase share
  const partly: Verifier = { name: "partly", verify: (c, row) => (["p0", "p1"].includes(String(row.problem)) ? { reward: 1, reason: "fixed" } : lowercase.verify(c, row, { timeoutMs: 1000 })) };
  const run = async (name: string, skip: boolean) => {
    await runGrpo(rows, options(name, 2, {
      base: dense,
      verifiers: [{ verifier: partly, weight: 1 }],
      grpo: GrpoConfig.parse({ num_generations: 8, max_completion_length: 6, loss_type: lossType, skip_zero_advantage: skip }),
      optimizer: OptimizerConfig.parse({ lr: 0.1, eps: 1, schedule: "constant", weight_decay: 0 }),
      train: GrpoTrainConfig.parse({ steps: 2, prompts_per_step: 4, save_every: 2, keep_last: 1, micro_batch_size: 8 }),
    }));
    const { model } = loadCheckpoint(path.join(tmp, name, "checkpoints", "step-000002"));
    const values = new Map(model.values());
    model.dispose();
    return { values, m: metrics(name) };
  };
  const every = await run(`every-${lossType}`, false);
  const skipped = await run(`skipped-${lossType}`, true);
  expect(every.m.some((r) => r.frac_reward_zero_std > 0)).toBe(true); // there was something to skip
  let maxDiff = 0;
  let moved = 0;
  const { model: start } = loadCheckpoint(dense);
  const initial = new Map(start.values());
  start.dispose();
  for (const [name, w] of every.values) {
    const v = skipped.values.get(name)!;
    const w0 = initial.get(name)!;
    for (let i = 0; i < w.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(w[i] - v[i]));
      moved = Math.max(moved, Math.abs(w[i] - w0[i]));
    }
  }
  expect(moved).toBeGreaterThan(1e-3);
  expect(maxDiff).toBeLessThan(1e-3 * moved);
  expect(skipped.m[1].reward).toBeCloseTo(every.m[1].reward, 5); // same weights after step 1, so the same samples in step 2
});

test("skip_zero_advantage is refused where completions with A = 0 still have a gradient", () => {
  for (const bad of [{ beta: 0.1 }, { entropy_coef: 0.01 }, { loss_type: "bnpo" }]) {
    const r = GrpoConfig.safeParse({ skip_zero_advantage: true, ...bad });
    expect(r.success, JSON.stringify(bad)).toBe(false);
    expect(r.error!.issues[0].path).toEqual(["skip_zero_advantage"]);
  }
  expect(GrpoConfig.parse({ skip_zero_advantage: true }).skip_zero_advantage).toBe(true);
});

test("the sandboxed code verifier in the loop: programs run against each row's tests and their verdicts become rewards", async () => {
  const { runSft, SftRunConfig, SftTrainConfig } = await import("../../trainer/sft.ts");
  const { HeldOutEvalConfig } = await import("../../trainer/eval/held-out.ts");
  const { loadVerifier } = await import("../../verifiers/registry.ts");
  // a tiny model that has memorized one program, so its samples are (mostly) that program
  const program = "```python\nprint(1)\n```";
  const sft = await runSft({ train: [{ problem: "q", solution: program }], eval: [] }, tok, {
    config: SftRunConfig.parse({
      name: "coder", seed: 1, model: tinyConfig({ vocab_size: 259, context_length: 32 }),
      train: SftTrainConfig.parse({ steps: 60, batch_size: 4, eval_every: 0, save_every: 60, log_every: 100 }),
      optimizer: OptimizerConfig.parse({ lr: 1e-2, warmup_steps: 2 }), eval: HeldOutEvalConfig.parse({}),
      output_dir: tmp,
    }),
    resume: false, log: () => {},
  });
  const code = await loadVerifier("code");
  try {
    // the same program passes the first row's test and fails the second's
    const coding: Row[] = [
      { problem: "q", language: "python", tests: { inputs: [""], outputs: ["1"] } },
      { problem: "q", language: "python", tests: { inputs: [""], outputs: ["2"] } },
    ];
    await runGrpo(coding, options("code", 1, {
      base: path.join(sft.runDir, "checkpoints/step-000060"), verifiers: [code],
      // the sampler's G and budget come from grpo: num_generations (4) sets the group size
      sampler: { temperature: 0 },
      grpo: GrpoConfig.parse({ num_generations: 4, max_completion_length: 24, loss_type: "dapo" }),
      optimizer: OptimizerConfig.parse({ lr: 1e-4, schedule: "constant", weight_decay: 0 }),
      train: GrpoTrainConfig.parse({ steps: 1, prompts_per_step: 2, save_every: 1, log_every: 100 }),
    }));
  } finally {
    await code.close();
  }
  const [m] = metrics("code");
  expect(m["verify/errors"]).toBe(0);
  const { tableFromIPC } = await import("@uwdata/flechette");
  const samples = tableFromIPC(fs.readFileSync(path.join(tmp, "code/completions/step-000001.arrow"))).toArray() as Record<string, unknown>[];
  expect(samples).toHaveLength(8);
  // every sample is the memorized program; each row's group of 4 gets its row's verdict
  expect(samples.every((s) => s.completion === program)).toBe(true);
  const rewards = samples.map((s) => s["rewards/code"] as number);
  expect([...rewards.slice(0, 4), ...rewards.slice(4)].sort()).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  expect(new Set(rewards.slice(0, 4)).size).toBe(1);
  expect(m["rewards/code/mean"]).toBeCloseTo(0.5, 6);
  // the sandbox took real time per program (a process start), unlike a verifier that never ran code
  expect(m["verify/time_ms_p50"]).toBeGreaterThan(1);
}, 180_000);
