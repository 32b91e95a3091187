/**
 * Nothing lost: a run directory holds one run (refused, resumed or explicitly overwritten), a
 * diverged run never saves its weights nor rotates out the last good checkpoint, and a resume reads
 * only what it can trust (torn metrics, damaged state.json, torn saves).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { initBackend } from "../../trainer/backend.ts";
import { CheckpointError, loadCheckpoint, saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors } from "../../trainer/model/safetensors.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { OptimizerConfig } from "../../trainer/optimizer.ts";
import { RunDirError } from "../../trainer/run-dir.ts";
import { RunStoppedError } from "../../trainer/run-loop.ts";
import { runSft, SftRunConfig, type SftOptions } from "../../trainer/sft.ts";
import { GrpoRunConfig, runGrpo, type GrpoOptions } from "../../trainer/grpo-trainer.ts";
import { lowercase, splitRunOptions } from "../run-fixtures.ts";
import { UserError } from "../../datasets/user-error.ts";
import { tinyConfig, withoutTimes } from "../helpers.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-guards-"));
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

function grpo(name: string, steps: number, extra: Record<string, unknown> = {}, train: Record<string, unknown> = {}): GrpoOptions {
  const { config, io } = splitRunOptions(extra);
  return {
    config: GrpoRunConfig.parse({
      name, seed: 5, base,
      grpo: { num_generations: 4, max_completion_length: 4 },
      optimizer: { lr: 1e-2, schedule: "constant", weight_decay: 0 },
      train: { steps, prompts_per_step: 2, save_every: 1, keep_last: 1, log_every: 100, ...train },
      output_dir: tmp,
      ...config,
    }),
    tokenizer: tok, verifiers: [{ verifier: lowercase, weight: 1 }], resume: false, log: () => {},
    ...io,
  };
}
const sftRows: Row[] = Array.from({ length: 12 }, (_, i) => ({ problem: `${i}+1`, solution: `\\boxed{${i + 1}}`, answer: String(i + 1) }));
function sft(name: string, steps: number, extra: Record<string, unknown> = {}, train: Record<string, unknown> = {}): SftOptions {
  const { config, io } = splitRunOptions(extra);
  return {
    config: SftRunConfig.parse({
      name, seed: 3, model: tinyConfig({ vocab_size: 259, context_length: 32 }),
      train: { steps, batch_size: 4, eval_every: 0, save_every: 1, keep_last: 1, log_every: 100, ...train },
      optimizer: { lr: 3e-3 },
      eval: { k: 1, max_new_tokens: 4 },
      output_dir: tmp,
      ...config,
    }),
    resume: false, log: () => {},
    ...io,
  };
}
const runPath = (name: string, ...rest: string[]) => path.join(tmp, name, ...rest);
const metricsText = (name: string) => fs.readFileSync(runPath(name, "metrics.jsonl"), "utf8");
const metrics = (name: string) => metricsText(name).trim().split("\n").map((l) => JSON.parse(l));
const saves = (name: string) => fs.readdirSync(runPath(name, "checkpoints")).sort();
/** Every file of a directory tree with its bytes, to show nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[path.relative(dir, path.join(entry.parentPath, entry.name))] = fs.readFileSync(path.join(entry.parentPath, entry.name)).toString("base64");
  }
  return out;
}

test("a fresh run refuses a run name already in use and leaves the earlier run untouched", async () => {
  await runGrpo(rows, grpo("reuse", 3, {}, { keep_last: 3 }));
  const before = snapshot(runPath("reuse"));
  const err = await runGrpo(rows, grpo("reuse", 2, { optimizer: OptimizerConfig.parse({ lr: 3e-3 }) })).catch((e) => e);
  expect(err).toBeInstanceOf(RunDirError);
  expect(err).toBeInstanceOf(UserError);
  expect(err.message).toContain(`${runPath("reuse")} already holds a run (metrics.jsonl with 3 lines; checkpoints step-000001, step-000002, step-000003)`);
  expect(err.message).toContain("--resume");
  expect(err.message).toContain("--overwrite");
  expect(snapshot(runPath("reuse"))).toEqual(before);
  const sftErr = await runSft({ train: sftRows, eval: [] }, tok, sft("reuse", 2)).catch((e) => e);
  expect(sftErr).toBeInstanceOf(RunDirError);
  expect(snapshot(runPath("reuse"))).toEqual(before);
});

test("overwrite deletes the earlier run first: only the new run's metrics and checkpoints remain", async () => {
  await runGrpo(rows, grpo("over", 4, {}, { keep_last: 4 }));
  fs.mkdirSync(runPath("over", "completions", "stale"), { recursive: true });
  await runGrpo(rows, grpo("over", 2, { overwrite: true }, { keep_last: 4 }));
  expect(metrics("over").map((m) => m.step)).toEqual([1, 2]);
  expect(saves("over")).toEqual(["step-000001", "step-000002"]);
  expect(fs.existsSync(runPath("over", "completions", "stale"))).toBe(false);
  // the same run with the same seed into a fresh name: overwrite left nothing of the old one mixed in
  await runGrpo(rows, grpo("over-fresh", 2, {}, { keep_last: 4 }));
  expect(metrics("over").map(withoutTimes)).toEqual(metrics("over-fresh").map(withoutTimes));
});

test("overwrite refuses a directory that holds no run, and resume and overwrite cannot be combined", async () => {
  fs.mkdirSync(runPath("notes"), { recursive: true });
  fs.writeFileSync(runPath("notes", "todo.txt"), "mine");
  await expect(runGrpo(rows, grpo("notes", 1, { overwrite: true }))).rejects.toThrow("does not look like a run directory");
  expect(fs.readFileSync(runPath("notes", "todo.txt"), "utf8")).toBe("mine");
  await expect(runGrpo(rows, grpo("notes", 1, { overwrite: true, resume: true }))).rejects.toThrow("--resume and --overwrite contradict each other");
  // "..": the run directory would be the output directory's parent
  await expect(runGrpo(rows, grpo("..", 1, { overwrite: true }))).rejects.toThrow(RunDirError);
});

test("resume needs a checkpoint: a missing run or one with no checkpoint is an error, not a fresh start", async () => {
  await expect(runGrpo(rows, grpo("never-ran", 2, { resume: true }))).rejects.toThrow(`--resume: ${runPath("never-ran")} does not exist`);
  expect(fs.existsSync(runPath("never-ran"))).toBe(false);
  fs.mkdirSync(runPath("no-save"), { recursive: true });
  fs.writeFileSync(runPath("no-save", "metrics.jsonl"), '{"step":1,"loss":1}\n');
  await expect(runSft({ train: sftRows, eval: [] }, tok, sft("no-save", 2, { resume: true }))).rejects.toThrow("has no checkpoint to resume from");
  expect(metricsText("no-save")).toBe('{"step":1,"loss":1}\n');
});

test("a huge lr: the diverged run stops without saving, keeps the last good checkpoint and names it", async () => {
  await runGrpo(rows, grpo("diverge", 2));
  const good = runPath("diverge", "checkpoints", "step-000002");
  const goodBytes = snapshot(good);
  const err = await runGrpo(rows, grpo("diverge", 6, { resume: true, optimizer: OptimizerConfig.parse({ lr: 1e30, schedule: "constant" }) })).catch((e) => e);
  expect(err).toBeInstanceOf(RunStoppedError);
  expect(err.message).toMatch(/^step 3: the weights exploded \(\|w\| = [\d.]+e\+\d+ in .*, above train\.max_abs_weight 10000\)/);
  expect(err.message).toContain(`the last good checkpoint is ${good}`);
  // keep_last 1: a bad save would have rotated the good one out
  expect(saves("diverge")).toEqual(["step-000002"]);
  expect(snapshot(good)).toEqual(goodBytes);
  loadCheckpoint(good).model.dispose();
  // pretraining has the same guard
  const sftErr = await runSft({ train: sftRows, eval: [] }, tok, sft("diverge-sft", 4, { optimizer: OptimizerConfig.parse({ lr: 1e30, schedule: "constant" }) })).catch((e) => e);
  expect(sftErr).toBeInstanceOf(RunStoppedError);
  expect(sftErr.message).toContain("no checkpoint of this run was saved");
  expect(saves("diverge-sft")).toEqual([]);
});

test("pretraining stops after max_bad_steps non-finite updates in a row, as GRPO does", async () => {
  const poisoned = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 32 }), 1);
  // finite weights whose logits overflow: every loss is NaN
  const w = poisoned.params.get("ln_f.weight")!;
  w.assign(tf.fill(w.shape, 3e38));
  const overflowing = path.join(tmp, "overflowing");
  saveCheckpoint(overflowing, poisoned, { step: 0 });
  poisoned.dispose();
  const lines: string[] = [];
  const err = await runSft({ train: sftRows, eval: [] }, tok, sft("bad-sft", 6, { init_from: overflowing, log: (l: string) => lines.push(l) }, { max_bad_steps: 3, max_abs_weight: 1e39 })).catch((e) => e);
  expect(err).toBeInstanceOf(RunStoppedError);
  expect(err.message).toContain("3 consecutive steps had a non-finite loss or gradient; stopping at step 3");
  expect(lines.filter((l) => l.includes("update skipped")).length).toBe(3);
  expect(metrics("bad-sft").map((m) => m.skipped_updates)).toEqual([1, 1, 1]);
});

test("non-finite weights are never written and never loaded", () => {
  const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 32 }), 1);
  const w = model.params.get("ln_f.weight")!;
  w.assign(tf.fill(w.shape, Number.POSITIVE_INFINITY));
  expect(() => saveCheckpoint(path.join(tmp, "inf"), model, { step: 0 })).toThrow("not saved: tensor ln_f.weight has non-finite values");
  expect(fs.existsSync(path.join(tmp, "inf"))).toBe(false);
  model.dispose();
  // a NaN written by something else
  const copy = path.join(tmp, "nan-copy");
  fs.cpSync(base, copy, { recursive: true });
  const file = path.join(copy, "model.safetensors");
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  tensors.get("ln_f.bias")!.data[3] = Number.NaN;
  fs.writeFileSync(file, encodeSafetensors(tensors, metadata));
  expect(() => loadCheckpoint(copy)).toThrow(CheckpointError);
  expect(() => loadCheckpoint(copy)).toThrow("tensor ln_f.bias has non-finite values");
});

test("resume drops a torn last metrics line, refuses a damaged one elsewhere, and removes torn saves", async () => {
  await runGrpo(rows, grpo("torn-ref", 3));
  await runGrpo(rows, grpo("torn", 2));
  fs.appendFileSync(runPath("torn", "metrics.jsonl"), '{"step":3,"loss":0.1');
  const tornSave = runPath("torn", "checkpoints", "step-000003.tmp-999999999");
  fs.mkdirSync(tornSave);
  await runGrpo(rows, grpo("torn", 3, { resume: true }));
  expect(metrics("torn").map(withoutTimes)).toEqual(metrics("torn-ref").map(withoutTimes));
  expect(fs.existsSync(tornSave)).toBe(false);

  const text = metricsText("torn").split("\n");
  text[0] = "{garbage";
  fs.writeFileSync(runPath("torn", "metrics.jsonl"), text.join("\n"));
  await expect(runGrpo(rows, grpo("torn", 4, { resume: true }))).rejects.toThrow(`${runPath("torn", "metrics.jsonl")}:1: not a JSON line`);
});

test("state.json is validated on resume: a bad step, a missing data cursor, an optimizer file outside the checkpoint", async () => {
  await runGrpo(rows, grpo("state", 1));
  const stateFile = runPath("state", "checkpoints", "step-000001", "state.json");
  const original = JSON.parse(fs.readFileSync(stateFile, "utf8"));
  const attempt = async (state: Record<string, unknown>) => {
    fs.writeFileSync(stateFile, JSON.stringify(state));
    return runGrpo(rows, grpo("state", 3, { resume: true })).catch((e) => e);
  };
  let err = await attempt({ ...original, step: "three" });
  expect(err).toBeInstanceOf(CheckpointError);
  expect(err.message).toBe(`${stateFile}: step: Invalid input: expected number, received string`);
  const { data_cursor: _dropped, ...noCursor } = original;
  err = await attempt(noCursor);
  expect(err).toBeInstanceOf(CheckpointError);
  expect(err.message).toContain(`${stateFile}: data_cursor: Invalid input`);
  err = await attempt({ ...original, data_cursor: { epoch: 0, index: -2 } });
  expect(err.message).toContain(`${stateFile}: data_cursor.index:`);
  err = await attempt({ ...original, optimizer: { ...original.optimizer, file: "../../../base/model.safetensors" } });
  expect(err).toBeInstanceOf(CheckpointError);
  expect(err.message).toContain(`${stateFile}: optimizer.file: a file name inside the checkpoint directory`);
  // nothing trained in any of these attempts
  expect(metrics("state").map((m) => m.step)).toEqual([1]);
  fs.writeFileSync(stateFile, JSON.stringify(original));
  await runGrpo(rows, grpo("state", 2, { resume: true }));
  expect(metrics("state").map((m) => m.step)).toEqual([1, 2]);
});
