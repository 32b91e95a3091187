// scripts/plot-passk.ts: pass@k curves of a base and its trained policy from two results files, hand-worked.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, expect, test } from "vitest";
import { passCurve, passSvg, passTable } from "../../scripts/plot-passk.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-plot-passk-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A results file: problem i has correct[i] of 4 samples right. */
function results(file: string, correct: number[]): string {
  const lines = correct.flatMap((c, index) => Array.from({ length: 4 }, (_, sample) => JSON.stringify({ index, sample, correct: sample < c })));
  const text = lines.join("\n") + "\n";
  fs.writeFileSync(file, file.endsWith(".gz") ? zlib.gzipSync(text) : text);
  return file;
}

test("pass@k by the unbiased estimator, problems solved by one side only, a table at powers of two and an SVG", () => {
  // base: 0, 1, 2 of 4 right; trained: 3, 0, 4 right
  const c = passCurve("t", results(path.join(tmp, "base.jsonl"), [0, 1, 2]), results(path.join(tmp, "trained.jsonl.gz"), [3, 0, 4]));
  // pass@2 of one problem = 1 − C(4 − c, 2) / C(4, 2): c=1 → 1 − 3/6, c=2 → 1 − 1/6, c=3 → 1
  expect(c.base[0]).toBeCloseTo((0 + 0.25 + 0.5) / 3, 12);
  expect(c.base[1]).toBeCloseTo((0 + 0.5 + 5 / 6) / 3, 12);
  expect(c.trained[1]).toBeCloseTo((1 + 0 + 1) / 3, 12);
  expect(c.base[3]).toBeCloseTo(2 / 3, 12);
  expect([c.n, c.problems, c.onlyTrained, c.onlyBase]).toEqual([4, 3, 1, 1]);
  expect(passTable([c]).split("\n")).toEqual([
    "| k | t base | t trained |", "|---|---|---|",
    "| 1 | 25.0 | 58.3 |", "| 2 | 44.4 | 66.7 |", "| 4 | 66.7 | 66.7 |",
    "", "t: of 3 problems, 1 solved by the trained policy in 4 samples and never by the base; 1 the reverse",
  ]);
  const svg = passSvg([c], "title");
  expect(svg.match(/<polyline/g)).toHaveLength(2);
  expect(svg).toContain("t: after RL");
});

test("files with different sample counts are refused", () => {
  const a = results(path.join(tmp, "a.jsonl"), [1, 2]);
  const b = path.join(tmp, "b.jsonl");
  fs.writeFileSync(b, fs.readFileSync(a, "utf8").trim().split("\n").slice(0, -1).join("\n"));
  expect(() => passCurve("x", a, b)).toThrow(/different sample counts/);
});
