import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { PretrainRecipe } from "../../scripts/commands/pretrain.ts";
import { loadRecipe } from "../../trainer/recipe.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-pretrain-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const rlvr = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), ...args], { cwd: ROOT, encoding: "utf8" });

const TINY = `name: tiny
seed: 1
model: { vocab_size: 259, d_model: 16, n_layers: 2, n_heads: 2, d_ff: 32, context_length: 256, moe_layers: [1], moe: { d_ff: 32 } }
data:
  train:
    synthetic: { task: arith, split: train, count: 40, seed: 1, level: 1 }
  eval:
    synthetic: { task: arith, split: test, count: 2, seed: 2, level: 1 }
train: { steps: 4, batch_size: 4, eval_every: 0, save_every: 2, log_every: 1 }
eval: { k: 2, max_new_tokens: 16 }
output_dir: ${tmp}
`;

test("the shipped pretrain recipes validate", () => {
  for (const file of ["recipes/pretrain-arith.yaml", "recipes/pretrain-arith-ls.yaml", "recipes/pretrain-chain.yaml", "recipes/pretrain-chain-rc.yaml", "recipes/pretrain-countdown.yaml", "recipes/pretrain-program.yaml"]) {
    expect(loadRecipe(path.join(ROOT, file), PretrainRecipe).train.steps).toBeGreaterThan(0);
  }
});

test("rlvr pretrain trains a tiny recipe end to end: metrics, checkpoints, held-out accuracy", () => {
  const recipe = path.join(tmp, "tiny.yaml");
  fs.writeFileSync(recipe, TINY);
  const r = rlvr("pretrain", recipe, "--backend", "wasm");
  expect(r.stderr).not.toContain("Error");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("rlvr pretrain tiny: backend wasm");
  expect(r.stdout).toMatch(/step 4\/4 {2}loss \d+\.\d{4} .*eval\/accuracy \d+\.\d%/);
  const metrics = fs.readFileSync(path.join(tmp, "tiny/metrics.jsonl"), "utf8").trim().split("\n");
  expect(metrics.length).toBe(4);
  expect(fs.readdirSync(path.join(tmp, "tiny/checkpoints"))).toEqual(["step-000002", "step-000004"]);
});

test("a bad recipe fails before training with file, line and field", () => {
  const recipe = path.join(tmp, "bad.yaml");
  fs.writeFileSync(recipe, TINY.replace("steps: 4,", "steps: four,"));
  const r = rlvr("pretrain", recipe);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`rlvr pretrain: ${recipe}:9: train.steps: Invalid input: expected number, received string`);
  expect(r.stdout).not.toContain("backend");
});

test("init_from continues from a checkpoint's weights with a fresh optimizer; a missing one is a clear error", () => {
  const first = path.join(tmp, "first.yaml");
  fs.writeFileSync(first, TINY.replace("name: tiny", "name: first"));
  expect(rlvr("pretrain", first, "--backend", "wasm").status).toBe(0);
  const start = path.join(tmp, "first/checkpoints/step-000004");
  const second = path.join(tmp, "second.yaml");
  fs.writeFileSync(second, TINY.replace("name: tiny", `name: second\ninit_from: ${start}`).replace("steps: 4,", "steps: 2,"));
  const r = rlvr("pretrain", second, "--backend", "wasm");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain(`starting from the weights of ${start}`);
  const firstLoss = JSON.parse(fs.readFileSync(path.join(tmp, "first/metrics.jsonl"), "utf8").split("\n")[0]).loss;
  const secondLoss = JSON.parse(fs.readFileSync(path.join(tmp, "second/metrics.jsonl"), "utf8").split("\n")[0]).loss;
  expect(secondLoss).toBeLessThan(firstLoss); // it did not start from a fresh initialization
  const state = JSON.parse(fs.readFileSync(path.join(tmp, "second/checkpoints/step-000002/state.json"), "utf8"));
  expect(state.step).toBe(2);
  expect(state.optimizer.t).toBe(2);
  fs.writeFileSync(second, TINY.replace("name: tiny", `name: third\ninit_from: ${path.join(tmp, "nope")}`));
  const bad = rlvr("pretrain", second, "--backend", "wasm");
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/rlvr pretrain: init_from: .*nope.*not found/);
});
