// The hash split: FNV-1a against published vectors, the share of test problems, and train/test
// disjointness by canonical problem on 2,000 rows of each split for every task.
import { expect, test } from "vitest";
import { generate, TASKS, type TaskName } from "../../../datasets/synthetic/index.ts";
import { fnv1a, splitOf } from "../../../datasets/synthetic/split.ts";
import type { Row } from "../../../datasets/row.ts";

test("fnv1a matches the reference 32-bit FNV-1a vectors", () => {
  // from the FNV reference test suite (draft-eastlake-fnv)
  expect(fnv1a("")).toBe(0x811c9dc5);
  expect(fnv1a("a")).toBe(0xe40c292c);
  expect(fnv1a("foobar")).toBe(0xbf9cf968);
});

test("about test_percent of distinct problems fall in test", () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `problem ${i}`);
  for (const percent of [10, 2.5, 50]) {
    const share = keys.filter((k) => splitOf(k, percent) === "test").length / keys.length;
    expect(share).toBeGreaterThan((percent / 100) * 0.9);
    expect(share).toBeLessThan((percent / 100) * 1.1);
  }
});

/**
 * What makes two rows the same problem, read by the test from the row itself: the arith story
 * without its name and items, countdown's numbers as a multiset, program's function without the
 * language or example. The generators' own canonical forms are finer or equal to these.
 */
function sameness(row: Row): string {
  const p = row.problem!;
  if (row.subject === "arith") return p.replace(/^[A-Z][a-z]+ has (\d+) ([a-z]+)\. (?:She|He) /, (_, n, unit) => `${n} ${unit === "dollars"}: `)
    .replace(/ (them|it)\b/g, "").replace(/\. How many [a-z]+ now\?$/, "");
  if (row.subject === "countdown") return `${[...(row.numbers as number[])].sort((a, b) => a - b)}=${row.target}`;
  if (row.subject === "program") return p.replace(/Python |JavaScript /, "").replace(/ Example: .*$/, "");
  return p;
}

test.each(Object.keys(TASKS) as TaskName[])("%s: no test problem appears among 2,000 train problems", (task) => {
  const train = generate({ task, split: "train", count: 2000, seed: 41 });
  const test = generate({ task, split: "test", count: 2000, seed: 42 });
  expect(train).toHaveLength(2000);
  expect(test).toHaveLength(2000);
  const seen = new Set(train.map(sameness));
  const leaked = test.filter((r) => seen.has(sameness(r)));
  expect(leaked.map((r) => r.problem)).toEqual([]);
  // the check has teeth: the test split is not empty of variety
  expect(new Set(test.map(sameness)).size).toBeGreaterThan(task === "program" ? 5 : 200);
});

test("a test_percent of 50 still splits disjointly and changes which problems are test", () => {
  const train = new Set(generate({ task: "linear", split: "train", count: 2000, test_percent: 50 }).map((r) => r.problem));
  const test = generate({ task: "linear", split: "test", count: 2000, test_percent: 50 });
  expect(test.filter((r) => train.has(r.problem))).toEqual([]);
  const testAt10 = new Set(generate({ task: "linear", split: "test", count: 2000 }).map((r) => r.problem));
  expect(test.filter((r) => !testAt10.has(r.problem)).length).toBeGreaterThan(0);
});
