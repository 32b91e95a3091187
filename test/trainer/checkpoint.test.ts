import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { lmTrainStep } from "../../trainer/update.ts";
import { loadCheckpoint, restoreOptimizer, saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { AdamW, OptimizerConfig } from "../../trainer/optimizer.ts";
import { Rng } from "../../datasets/rng.ts";
import { disposeBatch, randomBatch, tinyConfig } from "../helpers.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-ckpt-"));
beforeAll(async () => {
  await initBackend("wasm");
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function logitsOf(model: Transformer): Float32Array {
  return tf.tidy(() => {
    const { hidden } = model.forward(tf.tensor2d([[1, 2, 3, 4, 5]], undefined, "int32"));
    return model.logits(tf.reshape(hidden, [5, model.config.d_model]) as tf.Tensor2D).dataSync() as Float32Array;
  });
}

/** A trained model with optimizer moments and a moved aux-free bias, saved to `dir`. */
function trainedCheckpoint(dir: string) {
  const model = Transformer.init(tinyConfig({ moe: { num_experts: 4, top_k: 2, d_ff: 32, aux_free_bias: true } }), 1);
  const opt = new AdamW(model.params, OptimizerConfig.parse({ lr: 1e-3 }));
  const batch = randomBatch(2, 8, 16, 2);
  for (let i = 0; i < 3; i++) lmTrainStep(model, opt, batch, 1e-3);
  const rng = new Rng(5);
  rng.uniform();
  saveCheckpoint(dir, model, { step: 3, optimizer: opt, rng: rng.state(), data_cursor: { epoch: 0, index: 6 } });
  return { model, opt, batch, rng };
}

test("save → load gives identical logits, optimizer moments, RNG state and data cursor", () => {
  const dir = path.join(tmp, "a");
  const { model, opt, batch, rng } = trainedCheckpoint(dir);
  expect(fs.readdirSync(dir).sort()).toEqual(["model.safetensors", "optimizer.safetensors", "state.json"]);
  const { model: loaded, state } = loadCheckpoint(dir);
  expect(Buffer.from(logitsOf(loaded).buffer).equals(Buffer.from(logitsOf(model).buffer))).toBe(true);
  expect(Array.from(loaded.selectionBias.get(1)!)).toEqual(Array.from(model.selectionBias.get(1)!));
  expect(Array.from(model.selectionBias.get(1)!).some((b) => b !== 0)).toBe(true);
  expect(state.step).toBe(3);
  expect(state.data_cursor).toEqual({ epoch: 0, index: 6 });
  expect(new Rng(state.rng!).uniform()).toBe(rng.uniform());
  const opt2 = new AdamW(loaded.params, opt.config);
  restoreOptimizer(dir, state, opt2);
  expect(opt2.t).toBe(3);
  // one more step from the restored state equals one more step of the original
  const a = lmTrainStep(model, opt, batch, 1e-3).loss;
  const b = lmTrainStep(loaded, opt2, batch, 1e-3).loss;
  expect(b).toBe(a);
  expect(Array.from(loaded.values().get("ln_f.weight")!)).toEqual(Array.from(model.values().get("ln_f.weight")!));
  disposeBatch(batch);
  [model, loaded, opt, opt2].forEach((x) => x.dispose());
});

test("an independent reader (header parsed by hand here) reads our safetensors file", () => {
  const dir = path.join(tmp, "b");
  const { model, opt, batch } = trainedCheckpoint(dir);
  const bytes = fs.readFileSync(path.join(dir, "model.safetensors"));
  const n = Number(bytes.readBigUInt64LE(0));
  expect((8 + n) % 8).toBe(0);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
  const info = header["layers.1.moe.experts.2.fc.weight"];
  expect(info).toMatchObject({ dtype: "F32", shape: [16, 32] });
  const [begin, end] = info.data_offsets;
  const raw = bytes.subarray(8 + n + begin, 8 + n + end);
  const expected = model.params.get("layers.1.moe.experts.2.fc.weight")!.dataSync();
  for (let i = 0; i < expected.length; i++) expect(raw.readFloatLE(i * 4)).toBe(expected[i]);
  // offsets tile the data section exactly, in order, with no gaps
  const spans = Object.entries(header).filter(([k]) => k !== "__metadata__").map(([, v]) => (v as { data_offsets: number[] }).data_offsets).sort((x, y) => x[0] - y[0]);
  spans.forEach((s, i) => expect(s[0]).toBe(i === 0 ? 0 : spans[i - 1][1]));
  expect(spans[spans.length - 1][1]).toBe(bytes.length - 8 - n);
  disposeBatch(batch);
  model.dispose();
  opt.dispose();
});

test("Python (numpy, reading the format by its spec) reads the same values", () => {
  const dir = path.join(tmp, "py");
  const { model, opt, batch } = trainedCheckpoint(dir);
  const script = `
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
s, e = h["pos_emb.weight"]["data_offsets"]
a = np.frombuffer(b[8 + n + s:8 + n + e], dtype="<f4").reshape(h["pos_emb.weight"]["shape"])
print(json.dumps({"shape": list(a.shape), "sum": float(a.astype(np.float64).sum()), "first": float(a[0, 0])}))
`;
  const out = JSON.parse(execFileSync("python3", ["-c", script, path.join(dir, "model.safetensors")], { encoding: "utf8" }));
  const pos = model.params.get("pos_emb.weight")!;
  expect(out.shape).toEqual(pos.shape);
  expect(out.first).toBe(pos.dataSync()[0]);
  expect(out.sum).toBeCloseTo(Array.from(pos.dataSync()).reduce((x, y) => x + y, 0), 4);
  disposeBatch(batch);
  model.dispose();
  opt.dispose();
});

test("a truncated file gives a clear error", () => {
  const dir = path.join(tmp, "c");
  const { model, opt, batch } = trainedCheckpoint(dir);
  const file = path.join(dir, "model.safetensors");
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
  expect(() => loadCheckpoint(dir)).toThrow(/model\.safetensors: truncated: tensor ln_f\.weight ends at byte \d+ of \d+/);
  fs.writeFileSync(file, bytes.subarray(0, 5));
  expect(() => loadCheckpoint(dir)).toThrow("too short for a safetensors header");
  disposeBatch(batch);
  model.dispose();
  opt.dispose();
});

test("a checkpoint whose config does not match its tensors names the tensor and both shapes", () => {
  const dir = path.join(tmp, "d");
  const { model, opt, batch } = trainedCheckpoint(dir);
  const stateFile = path.join(dir, "state.json");
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
  state.model.d_ff = 48;
  fs.writeFileSync(stateFile, JSON.stringify(state));
  expect(() => loadCheckpoint(dir)).toThrow("tensor layers.0.ffn.fc.weight has shape [16,32], the config expects [16,48]");
  expect(() => loadCheckpoint(path.join(tmp, "missing"))).toThrow("state.json: not found");
  disposeBatch(batch);
  model.dispose();
  opt.dispose();
});

test("saving over an existing checkpoint leaves no temporary directory behind", () => {
  const dir = path.join(tmp, "e");
  const first = trainedCheckpoint(dir);
  saveCheckpoint(dir, first.model, { step: 4 });
  expect(fs.readdirSync(tmp).filter((f) => f.startsWith("e.tmp"))).toEqual([]);
  expect(loadCheckpoint(dir).state.step).toBe(4);
  disposeBatch(first.batch);
  first.model.dispose();
  first.opt.dispose();
});
