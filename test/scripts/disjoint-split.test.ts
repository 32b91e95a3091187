// scripts/disjoint-split.ts: a held-out set sharing no problem with the split a recipe was tuned on.
import { expect, test } from "vitest";
import { generate, syntheticConfigFromSpec } from "../../datasets/synthetic/index.ts";
import { disjointRows } from "../../scripts/disjoint-split.ts";

test("countdown level 1: seed 7 overlaps seed 2, and the disjoint rows do not, in the spec's order", () => {
  const tuned = new Set(generate(syntheticConfigFromSpec("synthetic:countdown?level=1&count=200&seed=2", { split: "test" })).map((r) => r.problem));
  const all = generate(syntheticConfigFromSpec("synthetic:countdown?level=1&count=400&seed=7", { split: "test" }));
  const { rows, excluded } = disjointRows("synthetic:countdown?level=1&count=400&seed=7", ["synthetic:countdown?level=1&count=200&seed=2"], 200);
  expect(excluded).toBe(all.filter((r) => tuned.has(r.problem)).length);
  expect(excluded).toBeGreaterThan(0);
  expect(rows).toHaveLength(200);
  expect(rows.some((r) => tuned.has(r.problem))).toBe(false);
  expect(rows).toEqual(all.filter((r) => !tuned.has(r.problem)).slice(0, 200));
  expect(() => disjointRows("synthetic:countdown?level=1&count=10&seed=7", [], 11)).toThrow(/only 10 rows/);
});
