import path from "node:path";
import { expect, test } from "vitest";
import { DataSource, loadSource } from "../../datasets/source.ts";

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
