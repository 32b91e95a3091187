import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { withoutTimes } from "../helpers.ts";
import { killMidRun, rlvr, saveTinyBase, tinyRecipe } from "./cli-runs.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-train-workers-"));
beforeAll(() => saveTinyBase(path.join(tmp, "base")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const make = (name: string) =>
  tinyRecipe(tmp, name, "steps: 6, prompts_per_step: 3, micro_batch_size: 4, save_every: 2, keep_last: 3", { verifiers: "  - { name: format, weight: 0.1 }\n" });

test("with --workers 2, a run killed with SIGKILL and resumed ends with the metrics and weights of an unbroken single-worker run", async () => {
  expect(rlvr("train", make("unbroken"), "--backend", "wasm").status).toBe(0);
  const killedRecipe = make("killed");
  const { exitedFirst, logged: before } = await killMidRun(["train", killedRecipe, "--backend", "wasm", "--workers", "2"], path.join(tmp, "killed"), "step-000002", 3);
  expect(exitedFirst, "the run ended before it could be killed mid-run").toBe(false);
  expect(before).toBeLessThan(6);

  const resumed = rlvr("train", killedRecipe, "--backend", "wasm", "--resume", "--workers", "2");
  expect(resumed.status).toBe(0);
  expect(resumed.stdout).toMatch(/backend wasm, matrix products on .+, 2 workers/);
  const strip = (run: string) => fs.readFileSync(path.join(tmp, run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => withoutTimes(JSON.parse(l)));
  expect(strip("killed")).toEqual(strip("unbroken"));
  const weights = (run: string) => fs.readFileSync(path.join(tmp, run, "checkpoints/step-000006/model.safetensors"));
  expect(weights("killed").equals(weights("unbroken"))).toBe(true);
}, 240_000);
