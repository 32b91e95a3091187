// The context budget of the tiny byte-level model: short tasks fit in ~200 bytes with room to spare.
import { expect, test } from "vitest";
import { generate } from "../../../datasets/synthetic/index.ts";
import type { Row } from "../../../datasets/row.ts";

const bytes = (r: Row) => Buffer.byteLength(`${r.problem}${r.solution}`, "utf8");
const shareWithin = (rows: Row[], limit: number) => rows.filter((r) => bytes(r) <= limit).length / rows.length;

test.each([1, 2, 3])("arith level %i: 95%% of problem+solution fit in 200 bytes", (level) => {
  const rows = generate({ task: "arith", level, count: 1000, seed: 51 });
  expect(rows).toHaveLength(1000);
  expect(shareWithin(rows, 200)).toBeGreaterThanOrEqual(0.95);
});

test.each([1, 2, 4, 6, 8])("chain with %i steps: 95%% of problem+solution fit in 200 bytes", (steps) => {
  const rows = generate({ task: "chain", steps, count: 1000, seed: 52 });
  expect(rows).toHaveLength(1000);
  expect(shareWithin(rows, 200)).toBeGreaterThanOrEqual(0.95);
});

test("the texts are ASCII, so a byte is a character", () => {
  const rows = ["arith", "countdown", "linear", "chain", "program"].flatMap((task) =>
    generate({ task: task as "arith", count: 200, seed: 53 }));
  expect(rows).toHaveLength(1000);
  for (const r of rows) expect(`${r.problem}${r.solution}${r.answer}`).toMatch(/^[\x20-\x7e\n]*$/);
});
