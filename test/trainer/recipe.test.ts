import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { z } from "zod";
import { loadRecipe } from "../../trainer/recipe.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-recipe-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const Schema = z.strictObject({
  name: z.string(),
  grpo: z.strictObject({ epsilon: z.number().gt(0).lt(1).default(0.2), beta: z.number().min(0).default(0) }).prefault({}),
  train: z.strictObject({ steps: z.int().min(1) }),
});

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

test("a valid recipe parses with defaults filled and --set overrides applied", () => {
  const file = write("ok.yaml", "name: demo\ntrain:\n  steps: 10\n");
  expect(loadRecipe(file, Schema)).toEqual({ name: "demo", grpo: { epsilon: 0.2, beta: 0 }, train: { steps: 10 } });
  expect(loadRecipe(file, Schema, ["grpo.beta=0.04", "train.steps=20"])).toEqual({ name: "demo", grpo: { epsilon: 0.2, beta: 0.04 }, train: { steps: 20 } });
});

test("a bad value names the file, the line and the field", () => {
  const file = write("bad.yaml", "name: demo\ngrpo:\n  beta: 0\n  epsilon: 0.2x\ntrain:\n  steps: 10\n");
  expect(() => loadRecipe(file, Schema)).toThrow(`${file}:4: grpo.epsilon: Invalid input: expected number, received string`);
});

test("an unknown key names its own line", () => {
  const file = write("typo.yaml", "name: demo\ntrain:\n  steps: 10\n  stepz: 3\n");
  expect(() => loadRecipe(file, Schema)).toThrow(`${file}:4: train.stepz: unknown key`);
});

test("a missing field points at its section", () => {
  const file = write("missing.yaml", "name: demo\ntrain:\n  {}\n");
  expect(() => loadRecipe(file, Schema)).toThrow(`${file}:2: train.steps: Invalid input: expected number, received undefined`);
});

test("a bad --set value is blamed on the override, and broken YAML on its line", () => {
  const file = write("ok2.yaml", "name: demo\ntrain:\n  steps: 10\n");
  expect(() => loadRecipe(file, Schema, ["train.steps=0"])).toThrow(`${file}: train.steps: Too small: expected number to be >=1 (from --set train.steps=…)`);
  const broken = write("broken.yaml", "name: demo\ntrain:\n  steps: [1, 2\n");
  expect(() => loadRecipe(broken, Schema)).toThrow(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+: \\(yaml\\): `));
  expect(() => loadRecipe(path.join(tmp, "nope.yaml"), Schema)).toThrow("nope.yaml: (file): no such recipe file");
});
