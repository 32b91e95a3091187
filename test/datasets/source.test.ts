import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { DataSource, loadSource } from "../../datasets/source.ts";
import { SyntheticConfig } from "../../datasets/synthetic/index.ts";
import { loadRecipe } from "../../trainer/recipe.ts";

const MATH500 = path.resolve(import.meta.dirname, "../../../shared/data/math500/test.jsonl");

test("a recipe data source loads synthetic rows or a file with its column mapping", async () => {
  const synthetic = await loadSource(DataSource.parse({ synthetic: { task: "chain", count: 3, steps: 4 } }));
  expect(synthetic.map((r) => r.subject)).toEqual(["chain", "chain", "chain"]);
  const file = await loadSource(DataSource.parse({ file: { path: MATH500, limit: 5 } }));
  expect(file.length).toBe(5);
  expect(file[0]).toMatchObject({ subject: expect.any(String), level: expect.any(Number) });
  expect(typeof file[0].problem).toBe("string");
});

test("a source that is neither synthetic nor file is refused", () => {
  expect(DataSource.safeParse({ hub: "openai/gsm8k" }).success).toBe(false);
  expect(DataSource.safeParse({ synthetic: { task: "arith", steps: 3 } }).success).toBe(false);
});

test("a mix loads its sources' rows together, in order, and each part is validated", async () => {
  const mix = await loadSource(DataSource.parse({ mix: [
    { synthetic: { task: "chain", count: 2, steps: 4 } },
    { file: { path: MATH500, limit: 3 } },
    { synthetic: { task: "arith", count: 1 } },
  ] }));
  expect(mix.map((r) => r.subject === "chain" || r.subject === "arith" ? r.subject : "math500")).toEqual(["chain", "chain", "math500", "math500", "math500", "arith"]);
  expect(DataSource.safeParse({ mix: [] }).success).toBe(false);
  expect(DataSource.safeParse({ mix: [{ synthetic: { task: "nope" } }] }).success).toBe(false);
});

describe("a data source in a recipe", () => {
  const Recipe = z.strictObject({ data: z.strictObject({ train: DataSource, eval: DataSource.optional() }) });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-source-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const recipe = (name: string, text: string) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const TASKS = "the tasks are arith, countdown, linear, chain, program";

  test("an unknown synthetic task lists the tasks and points at the task's own line", () => {
    const file = recipe("task.yaml", "data:\n  train:\n    synthetic:\n      count: 4\n      task: aritj\n");
    expect(() => loadRecipe(file, Recipe)).toThrow(`${file}:5: data.train.synthetic.task: unknown task "aritj"; ${TASKS}`);
    const missing = recipe("no-task.yaml", "data:\n  train:\n    synthetic:\n      count: 4\n");
    expect(() => loadRecipe(missing, Recipe)).toThrow(`${missing}:3: data.train.synthetic.task: missing; ${TASKS}`);
  });

  test("a spec string (synthetic:<task>?key=value, as rlvr eval --dataset takes) is a source; its errors point at its line", () => {
    const good = recipe("spec.yaml", "data:\n  train: synthetic:arith?level=2-3&count=3\n");
    expect(loadRecipe(good, Recipe).data.train).toEqual({ synthetic: SyntheticConfig.parse({ task: "arith", level: [2, 3], count: 3 }) });
    const bad = recipe("spec-bad.yaml", "data:\n  train: synthetic:arith?count=3\n  eval: synthetic:aritj?level=1\n");
    expect(() => loadRecipe(bad, Recipe)).toThrow(`${bad}:3: data.eval.synthetic.task: unknown task "aritj"; ${TASKS}`);
    const malformed = recipe("spec-malformed.yaml", "data:\n  train: synthetic:Arith\n");
    expect(() => loadRecipe(malformed, Recipe)).toThrow(`${malformed}:2: data.train: dataset spec "synthetic:Arith": expected synthetic:<task>[?key=value&…], e.g. synthetic:arith?level=3`);
  });

  test("a mistake inside a mix part points at that part, and an unknown kind of source names the kinds", () => {
    const mix = recipe("mix.yaml", "data:\n  train:\n    mix:\n      - synthetic: { task: arith }\n      - file: { path: a.jsonl, problem_feld: q }\n");
    expect(() => loadRecipe(mix, Recipe)).toThrow(`${mix}:5: data.train.mix.1.file.problem_feld: unknown key`);
    const kind = recipe("kind.yaml", "data:\n  train:\n    hub: openai/gsm8k\n");
    expect(() => loadRecipe(kind, Recipe)).toThrow(`${kind}:2: data.train: a data source is {synthetic: {…}}, {file: {…}}, {mix: […]} or a synthetic:<task>?… string, not {hub}`);
  });
});
