import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { initBackend } from "../../trainer/backend.ts";
import { loadCheckpoint } from "../../trainer/model/checkpoint.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { OptimizerConfig } from "../../trainer/optimizer.ts";
import { passAtK } from "../../trainer/eval/metrics.ts";
import { BatchPlan, DataOrder } from "../../trainer/data-order.ts";
import { HeldOutEvalConfig } from "../../trainer/eval/held-out.ts";
import { makeBatch, runSft, SftRunConfig, SftTrainConfig, type SftOptions } from "../../trainer/sft.ts";
import { splitRunOptions } from "../run-fixtures.ts";
import { tinyConfig, withoutTimes } from "../helpers.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-sft-"));
const tok = new ByteTokenizer();
beforeAll(async () => {
  await initBackend("wasm");
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rows: Row[] = Array.from({ length: 12 }, (_, i) => ({ problem: `${i}+1`, solution: `\\boxed{${i + 1}}`, answer: String(i + 1) }));

function options(name: string, steps: number, extra: Record<string, unknown> = {}): SftOptions {
  const { config, io } = splitRunOptions(extra);
  return {
    config: SftRunConfig.parse({
      name,
      seed: 3,
      model: tinyConfig({ vocab_size: 259, context_length: 32 }),
      train: SftTrainConfig.parse({ steps, batch_size: 4, eval_every: 0, save_every: 3, keep_last: 2, log_every: 100 }),
      optimizer: OptimizerConfig.parse({ lr: 3e-3, warmup_steps: 2 }),
      eval: HeldOutEvalConfig.parse({ k: 2, max_new_tokens: 8 }),
      output_dir: tmp,
      ...config,
    }),
    resume: false,
    log: () => {},
    ...io,
  };
}

test("a batch scores only the solution and <eos>, shifted by one", () => {
  const b = makeBatch(tok, [{ problem: "ab", solution: "c" }], 32);
  // <bos> a b \n c <eos>: inputs are the first five, targets the last five
  expect(b.tokens.arraySync()).toEqual([[256, 97, 98, 10, 99]]);
  expect(b.targets.arraySync()).toEqual([[97, 98, 10, 99, 257]]);
  expect(b.mask.arraySync()).toEqual([[0, 0, 0, 1, 1]]);
  tf.dispose([b.tokens, b.targets, b.mask]);
});

test("a row's sft_prompt is the prompt verbatim (no newline added) and carries no loss", async () => {
  const { encodeExample } = await import("../../trainer/sft.ts");
  const { formatPrompt } = await import("../../trainer/prompt.ts");
  const row: Row = { problem: "P", sft_prompt: "P\nx.", solution: " y." };
  expect(formatPrompt(row)).toBe("P\nx.");
  expect(formatPrompt({ problem: "P" })).toBe("P\n");
  const e = encodeExample(tok, row, 32);
  // <bos> P \n x . | ' ' y . <eos>: the summary part of the prompt (x.) has mask 0
  expect(e.ids).toEqual([256, 80, 10, 120, 46, 32, 121, 46, 257]);
  expect(e.mask).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
  const b = makeBatch(tok, [row], 32);
  expect(b.mask.arraySync()).toEqual([[0, 0, 0, 0, 1, 1, 1, 1]]);
  tf.dispose([b.tokens, b.targets, b.mask]);
});

test("RC-format chain rows: only the target after the I_R or I_S prompt is scored", async () => {
  const { encodeExample } = await import("../../trainer/sft.ts");
  const { generate } = await import("../../datasets/synthetic/index.ts");
  for (const row of generate({ task: "chain", labeled: true, rc_format: true, count: 40, seed: 6 })) {
    const e = encodeExample(tok, row, 256);
    const scored = e.ids.filter((_, i) => e.mask[i] === 1);
    expect(scored).toEqual([...tok.encode(row.solution!), tok.eos]);
    expect(e.mask.indexOf(1)).toBe(1 + tok.encode(row.sft_prompt as string).length);
  }
});

test("data order is a seeded permutation per epoch, resumable from its cursor", () => {
  const a = new DataOrder(5, 1);
  const first = a.next(7);
  expect([...first.slice(0, 5)].sort()).toEqual([0, 1, 2, 3, 4]);
  expect(a.cursor).toEqual({ epoch: 1, index: 2 });
  const b = new DataOrder(5, 1, { epoch: 1, index: 2 });
  expect(b.next(3)).toEqual(a.next(3));
});

test("bucketed batches cover the data once per epoch, group similar lengths, and resume mid-pool", () => {
  const lengths = Array.from({ length: 64 }, (_, i) => (i * 37) % 64);
  const plan = new BatchPlan(lengths, 4, 5, undefined, 4);
  const epoch = Array.from({ length: 16 }, () => plan.next());
  expect(epoch.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i));
  // within a pool of 16 sorted rows, a batch spans at most its own quarter of the lengths
  for (const b of epoch) expect(Math.max(...b.map((i) => lengths[i])) - Math.min(...b.map((i) => lengths[i]))).toBeLessThan(64);
  const saved = plan.state;
  const resumed = new BatchPlan(lengths, 4, 5, saved, 4);
  const fresh = Array.from({ length: 6 }, () => plan.next());
  expect(Array.from({ length: 6 }, () => resumed.next())).toEqual(fresh);
  const midPool = new BatchPlan(lengths, 4, 5, undefined, 4);
  midPool.next();
  const state = midPool.state;
  expect(state.offset).toBe(1);
  expect(new BatchPlan(lengths, 4, 5, state, 4).next()).toEqual(midPool.next());
});

test("unbiased pass@k matches hand-computed values", () => {
  expect(passAtK(4, 0, 2)).toBe(0);
  expect(passAtK(4, 4, 2)).toBe(1);
  // 1 − C(3,2)/C(4,2) = 1 − 3/6
  expect(passAtK(4, 1, 2)).toBeCloseTo(0.5, 12);
  // 1 − C(6,3)/C(8,3) = 1 − 20/56
  expect(passAtK(8, 2, 3)).toBeCloseTo(1 - 20 / 56, 12);
  expect(passAtK(5, 2, 1)).toBeCloseTo(0.4, 12);
});

test("supervised training lowers the loss, writes metrics, evaluates and keeps the last checkpoints", async () => {
  const result = await runSft({ train: rows, eval: rows.slice(0, 3) }, tok, options("learn", 40, { optimizer: OptimizerConfig.parse({ lr: 1e-2, warmup_steps: 2 }) }));
  const metrics = fs.readFileSync(path.join(result.runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(metrics.length).toBe(40);
  expect(metrics[39].loss).toBeLessThan(metrics[0].loss / 3);
  expect(metrics[39]["eval/accuracy"]).toBeGreaterThanOrEqual(0);
  expect(metrics[39]).toHaveProperty("eval/pass@2");
  expect(fs.readdirSync(path.join(result.runDir, "checkpoints"))).toEqual(["step-000039", "step-000040"]);
});

test("a run stopped at a checkpoint and resumed ends with exactly the weights of an unbroken run", async () => {
  await runSft({ train: rows, eval: [] }, tok, options("unbroken", 6));
  await runSft({ train: rows, eval: [] }, tok, options("broken", 3));
  await runSft({ train: rows, eval: [] }, tok, options("broken", 6, { resume: true }));
  const a = loadCheckpoint(path.join(tmp, "unbroken/checkpoints/step-000006"));
  const b = loadCheckpoint(path.join(tmp, "broken/checkpoints/step-000006"));
  for (const [name, w] of a.model.values()) expect(Buffer.from(b.model.values().get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
  const lines = (run: string) => fs.readFileSync(path.join(tmp, run, "metrics.jsonl"), "utf8").trim().split("\n");
  expect(lines("broken")).toEqual(lines("unbroken"));
  a.model.dispose();
  b.model.dispose();
});

test("held-out accuracy is graded by the configured verifier, and only a full reward counts", async () => {
  const { Transformer } = await import("../../trainer/model/transformer.ts");
  const { evaluateAccuracy } = await import("../../trainer/eval/held-out.ts");
  const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 32 }), 5);
  // the reward depends on the row, not the (random) completion, so the expected accuracy is known
  const verifier = path.join(tmp, "by-row.mjs");
  fs.writeFileSync(verifier, `export default { name: "by-row", verify: (c, row) => ({ reward: row.reward, reason: "r" }) };`);
  const graded: Row[] = [{ problem: "a", reward: 1 }, { problem: "b", reward: 0.5 }, { problem: "c", reward: 1 }, { problem: "d", reward: 0 }];
  const acc = await evaluateAccuracy(model, tok, graded, HeldOutEvalConfig.parse({ k: 2, max_new_tokens: 3, verifier }), 1);
  expect(acc).toEqual({ pass1: 0.5, passK: 0.5, k: 2, n: 4 });
  // the default, math, reads the boxed answer: a random model's completions match no gold
  const math = await evaluateAccuracy(model, tok, [{ problem: "a", answer: "7" }], HeldOutEvalConfig.parse({ k: 2, max_new_tokens: 3 }), 1);
  expect(math.pass1).toBe(0);
  model.dispose();
}, 60_000);

test("micro-batches: step 1's loss is the whole batch's; 2 ranks reproduce 1 rank's micro-batched run bit for bit (held-out evaluations, checkpoint), and the main thread keeps no tensor", async () => {
  const ranks = (workers: number) => options(`micro-${workers}`, 6, { train: SftTrainConfig.parse({ steps: 6, batch_size: 4, micro_batch_size: 1, workers, eval_every: 3, save_every: 3, keep_last: 2, log_every: 100 }) });
  const before = tf.memory().numTensors;
  await runSft({ train: rows, eval: rows.slice(0, 3) }, tok, options("whole", 6));
  await runSft({ train: rows, eval: rows.slice(0, 3) }, tok, ranks(1));
  await runSft({ train: rows, eval: rows.slice(0, 3) }, tok, ranks(2));
  expect(tf.memory().numTensors).toBe(before);
  const metrics = (run: string) => fs.readFileSync(path.join(tmp, run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => withoutTimes(JSON.parse(l)));
  const [whole, one, two] = [metrics("whole"), metrics("micro-1"), metrics("micro-2")];
  // the same weights at step 1, so the same NLL however the batch is cut (the MoE balance loss is per micro-batch)
  expect(Math.abs(one[0].loss - whole[0].loss)).toBeLessThanOrEqual(1e-5 * whole[0].loss);
  expect(one[0].loss).not.toBe(one[1].loss);
  expect(two).toEqual(one);
  expect(two.filter((l) => l["eval/accuracy"] !== undefined).map((l) => l.step)).toEqual([3, 6]);
  const ckpt = (run: string) => fs.readFileSync(path.join(tmp, run, "checkpoints", "step-000006", "model.safetensors"));
  expect(ckpt("micro-2").equals(ckpt("micro-1"))).toBe(true);
});

test("workers > 1 needs at least one micro-batch per rank: one line naming micro_batch_size and the largest that works", () => {
  const r = SftTrainConfig.safeParse({ batch_size: 32, workers: 2 });
  expect(r.success).toBe(false);
  expect(r.error!.issues.map((i) => [i.path.join("."), i.message])).toEqual([["micro_batch_size", "train.workers 2 splits the batch's micro-batches across ranks, and 1 micro-batch leaves a rank idle: set train.micro_batch_size to at most 16 (batch_size / workers)"]]);
  expect(SftTrainConfig.safeParse({ batch_size: 32, workers: 2, micro_batch_size: 16 }).success).toBe(true);
});
