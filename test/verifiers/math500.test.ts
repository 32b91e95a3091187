/**
 * All 500 MATH-500 golds: each is judged equivalent to itself and to the boxed answer of its
 * own reference solution, and not to a perturbed copy. The data sits in shared/ beside the clone.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { extractBoxed, gradeAnswer, isEquivalent } from "../../verifiers/math/index.ts";

const here = dirname(fileURLToPath(import.meta.url));
const file = resolve(here, "../../../shared/data/math500/test.jsonl");
const rows: { answer: string; solution: string; unique_id: string }[] = readFileSync(file, "utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line));

/** A value-changing edit: bump the first digit (9 → 0 changes it too), else append "+1". */
function perturb(answer: string): string {
  const m = /\d/.exec(answer);
  if (!m) return `${answer}+1`;
  return answer.slice(0, m.index) + ((Number(m[0]) + 1) % 10) + answer.slice(m.index + 1);
}

test("the file holds 500 rows", () => expect(rows.length).toBe(500));

describe.each(rows)("$unique_id", (row) => {
  test("the gold equals itself", () => expect(isEquivalent(row.answer, row.answer).equal).toBe(true));
  test("the gold is the solution's boxed answer", () => {
    expect(extractBoxed(row.solution)).not.toBeNull();
    expect(gradeAnswer(row.solution, row.answer)).toMatchObject({ correct: true });
    expect(gradeAnswer(`\\boxed{${row.answer}}`, row.answer).correct).toBe(true);
  });
  test("a perturbed gold is wrong", () => {
    const wrong = perturb(row.answer);
    expect(isEquivalent(wrong, row.answer).equal, wrong).toBe(false);
  });
});
