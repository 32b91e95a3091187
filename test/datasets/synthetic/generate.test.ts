// The synthetic API: determinism, row shape and ids, config checks, and the dataset spec string.
import { describe, expect, test } from "vitest";
import { generate, generateRows, parseDatasetSpec, SyntheticConfig, syntheticConfigFromSpec, TASKS, type TaskName } from "../../../datasets/synthetic/index.ts";

const tasks = Object.keys(TASKS) as TaskName[];

test("there are five tasks", () => {
  expect(tasks.sort()).toEqual(["arith", "chain", "countdown", "linear", "program"]);
});

describe.each(tasks)("%s", (task) => {
  test("the same seed gives identical rows", () => {
    expect(generate({ task, count: 50, seed: 7 })).toEqual(generate({ task, count: 50, seed: 7 }));
  });

  test("different seeds give different rows", () => {
    const a = generate({ task, count: 50, seed: 7 }).map((r) => r.problem);
    const b = new Set(generate({ task, count: 50, seed: 8 }).map((r) => r.problem));
    expect(a.filter((p) => b.has(p)).length).toBeLessThan(10);
  });

  test("rows have the Math-500 fields, subject = task and numbered ids", () => {
    const rows = generate({ task, count: 20, seed: 1, split: "test" });
    expect(rows).toHaveLength(20);
    rows.forEach((r, i) => {
      for (const field of ["problem", "solution", "answer"]) expect(typeof r[field]).toBe("string");
      expect(r.subject).toBe(task);
      expect(r.level).toBeGreaterThanOrEqual(1);
      expect(r.level).toBeLessThanOrEqual(5);
      expect(r.unique_id).toBe(`${task}/test/L${r.level}/${String(i).padStart(6, "0")}`);
    });
  });

  test("a row does not depend on the count asked for: 10 rows are the first 10 of 40", () => {
    expect(generate({ task, count: 10, seed: 3 })).toEqual(generate({ task, count: 40, seed: 3 }).slice(0, 10));
  });
});

test("the stream yields rows lazily, the same as generate", () => {
  const stream = generateRows({ task: "chain", count: 1_000_000, steps: 4 });
  const first = [...take(stream, 5)];
  expect(first).toEqual(generate({ task: "chain", count: 5, steps: 4 }));
});

function* take<T>(items: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const item of items) {
    yield item;
    if (--n === 0) return;
  }
}

test("a fixed level gives rows of that level only; a range gives every level in it", () => {
  expect(new Set(generate({ task: "arith", count: 100, level: 4 }).map((r) => r.level))).toEqual(new Set([4]));
  expect(new Set(generate({ task: "linear", count: 200, level: [2, 3] }).map((r) => r.level))).toEqual(new Set([2, 3]));
});

test("the config rejects misplaced options and misspelt keys", () => {
  expect(SyntheticConfig.safeParse({ task: "arith", steps: 4 }).success).toBe(false);
  expect(SyntheticConfig.safeParse({ task: "chain", language: "python" }).success).toBe(false);
  expect(SyntheticConfig.safeParse({ task: "arith", level: [4, 2] }).success).toBe(false);
  expect(SyntheticConfig.safeParse({ task: "arith", levl: 2 }).success).toBe(false);
  expect(SyntheticConfig.parse({ task: "program" })).toEqual({ task: "program", split: "train", count: 1000, seed: 0, test_percent: 10 });
});

test("the dataset spec parses task, numbers and level ranges", () => {
  expect(parseDatasetSpec("synthetic:arith")).toEqual({ task: "arith" });
  expect(parseDatasetSpec("synthetic:chain?steps=8&split=test&seed=3")).toEqual({ task: "chain", steps: 8, split: "test", seed: 3 });
  expect(parseDatasetSpec("synthetic:arith?level=2-4")).toEqual({ task: "arith", level: [2, 4] });
  expect(syntheticConfigFromSpec("synthetic:program?language=python&level=3")).toMatchObject({ task: "program", language: "python", level: 3 });
});

test("a bad spec names the spec and the problem", () => {
  expect(() => parseDatasetSpec("math500")).toThrow(
    'dataset spec "math500": expected synthetic:<task>[?key=value&…], e.g. synthetic:arith?level=3');
  expect(() => syntheticConfigFromSpec("synthetic:arith?steps=3")).toThrow(
    'dataset spec "synthetic:arith?steps=3": steps: steps applies to chain only, not arith');
  expect(() => syntheticConfigFromSpec("synthetic:algebra")).toThrow(/dataset spec "synthetic:algebra": task: /);
});

test("program rows carry language and assert tests; language can be fixed", () => {
  const rows = generate({ task: "program", count: 20, language: "javascript" });
  for (const r of rows) {
    expect(r.language).toBe("javascript");
    expect(r.tests?.assert).toMatch(/^const assert = require\("assert"\);\n/);
  }
  expect(new Set(generate({ task: "program", count: 40 }).map((r) => r.language))).toEqual(new Set(["python", "javascript"]));
});

test("countdown rows carry numbers and target", () => {
  for (const r of generate({ task: "countdown", count: 20 })) {
    expect(Array.isArray(r.numbers)).toBe(true);
    expect(Number.isInteger(r.target)).toBe(true);
  }
});

test("a split that holds none of the asked problems fails with advice instead of looping", () => {
  // the ~140 one-step chains all hash outside the first 1% of buckets
  expect(() => generate({ task: "chain", steps: 1, split: "test", test_percent: 1, count: 1 })).toThrow(
    "synthetic:chain: 10000 draws in a row gave no test problem at levels 1-1; the test split holds (almost) none of these " +
    "problems: widen the levels or steps, or change test_percent (1)");
});
