import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { withoutTimes } from "../helpers.ts";
import { killMidRun, rlvr, ROOT, saveTinyBase } from "./cli-runs.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-train-"));
beforeAll(() => saveTinyBase(path.join(tmp, "base")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const recipe = (extra = "") => `name: tiny-grpo
base: ${path.join(tmp, "base")}
data:
  train:
    synthetic: { task: arith, count: 16, level: 1 }
  eval:
    synthetic: { task: arith, split: test, count: 2, level: 1 }
verifiers:
  - { name: math, weight: 1 }
  - { name: format, weight: 0.1 }
grpo: { num_generations: 4, max_completion_length: 8 }
train: { steps: 2, prompts_per_step: 2, save_every: 1, keep_last: 1, eval_every: 2 }
eval: { k: 2, max_new_tokens: 8 }
output_dir: ${tmp}
${extra}`;

test("rlvr train runs a GRPO recipe end to end from a base checkpoint", () => {
  const file = path.join(tmp, "ok.yaml");
  fs.writeFileSync(file, recipe());
  const r = rlvr("train", file, "--backend", "wasm");
  expect(r.stderr).not.toContain("Error");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/step 2\/2 {2}reward \d\.\d{3} .*eval\/accuracy \d+\.\d%/);
  const lines = fs.readFileSync(path.join(tmp, "tiny-grpo/metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.map((m) => m.step)).toEqual([1, 2]);
  expect(lines[0]).toHaveProperty(["rewards/math/mean"]);
  expect(lines[0]).toHaveProperty(["rewards/format/mean"]);
  expect(fs.readdirSync(path.join(tmp, "tiny-grpo/checkpoints"))).toEqual(["step-000002"]);
});

test("a bad recipe or a missing base fails before training, naming the place", () => {
  const bad = path.join(tmp, "bad.yaml");
  fs.writeFileSync(bad, recipe().replace("num_generations: 4", "num_generations: 4, epsilon: 0.2x"));
  const r = rlvr("train", bad);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`rlvr train: ${bad}:11: grpo.epsilon: Invalid input: expected number, received string`);
  const noBase = path.join(tmp, "nobase.yaml");
  fs.writeFileSync(noBase, recipe().replace(path.join(tmp, "base"), path.join(tmp, "missing")));
  const m = rlvr("train", noBase);
  expect(m.status).toBe(1);
  expect(m.stderr).toContain("base: ");
  expect(m.stderr).toContain("state.json: not found");
});

test("a run killed with SIGKILL and resumed ends with the same metrics and weights as an unbroken run", async () => {
  const make = (name: string) => {
    const file = path.join(tmp, `${name}.yaml`);
    fs.writeFileSync(file, recipe().replace("name: tiny-grpo", `name: ${name}`).replace("train: { steps: 2, prompts_per_step: 2, save_every: 1, keep_last: 1, eval_every: 2 }", "train: { steps: 6, prompts_per_step: 2, save_every: 2, keep_last: 3 }"));
    return file;
  };
  expect(rlvr("train", make("unbroken"), "--backend", "wasm").status).toBe(0);

  const killedRecipe = make("killed");
  // kill after the step-2 checkpoint and at least one more logged step, mid-run
  const { exitedFirst, logged: before } = await killMidRun(["train", killedRecipe, "--backend", "wasm"], path.join(tmp, "killed"), "step-000002", 3);
  expect(exitedFirst, "the run ended before it could be killed mid-run").toBe(false);
  expect(before).toBeGreaterThanOrEqual(3);
  expect(before).toBeLessThan(6);

  expect(rlvr("train", killedRecipe, "--backend", "wasm", "--resume").status).toBe(0);
  const strip = (run: string) => fs.readFileSync(path.join(tmp, run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => withoutTimes(JSON.parse(l)));
  expect(strip("killed")).toEqual(strip("unbroken"));
  const weights = (run: string) => fs.readFileSync(path.join(tmp, run, "checkpoints/step-000006/model.safetensors"));
  expect(weights("killed").equals(weights("unbroken"))).toBe(true);
}, 180_000);

test("every shipped GRPO recipe validates", async () => {
  const { GrpoRecipe } = await import("../../scripts/commands/train.ts");
  const { loadRecipe } = await import("../../trainer/recipe.ts");
  const { loadVerifiers } = await import("../../verifiers/registry.ts");
  const { readCheckpointState } = await import("../../trainer/model/checkpoint.ts");
  const files = fs.readdirSync(path.join(ROOT, "recipes")).filter((f) => f.endsWith(".yaml") && !f.startsWith("pretrain-"));
  expect(files.sort()).toEqual(["dapo-arith.yaml", "dr-grpo-arith.yaml", "grpo-arith.yaml", "grpo-countdown.yaml", "grpo-program.yaml", "gspo-arith.yaml", "quick.yaml", "rc-chain.yaml"]);
  for (const f of files) {
    const recipe = loadRecipe(path.join(ROOT, "recipes", f), GrpoRecipe);
    // a base under checkpoints/ ships in the repo, so it must be there (a base under runs/ is made by a pretrain recipe)
    if (recipe.base.startsWith("checkpoints/")) expect(readCheckpointState(path.join(ROOT, recipe.base)).step, f).toBeGreaterThan(0);
    const verifiers = await loadVerifiers(recipe.verifiers);
    expect(verifiers.length, f).toBe(recipe.verifiers.length);
    await Promise.all(verifiers.map((v) => v.close()));
  }
});
