/**
 * JSONL loading: the 500 real MATH-500 rows checked against a plain readFileSync + JSON.parse of
 * the same file and the known subject counts; file:line errors pinned as exact strings; skipped
 * rows counted and warned about; column mapping for exports with other column names.
 */
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, test } from "vitest";
import { DatasetError, DatasetFileConfig, formatOf, loadRows, readRows } from "../../datasets/loaders.ts";

const here = dirname(fileURLToPath(import.meta.url));
// shared/ sits beside the clone, here and in CI
const math500 = resolve(here, "../../../shared/data/math500/test.jsonl");
const dir = mkdtempSync(join(tmpdir(), "rlvr-loaders-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write a JSONL file from raw lines (so malformed lines stay malformed) and return its path. */
function jsonl(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

const row = (problem: unknown, answer: unknown, extra: object = {}) => JSON.stringify({ problem, answer, ...extra });

describe("MATH-500", () => {
  test("all 500 rows load with every field as the file has it", async () => {
    const { rows, skipped } = await loadRows({ path: math500 });
    const oracle = readFileSync(math500, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(oracle.length).toBe(500);
    expect(skipped).toBe(0);
    expect(rows).toEqual(oracle);
    expect(rows[0].unique_id).toBe("test/precalculus/807.json");
    expect(rows[499].answer).toBe("106^\\circ");
  });

  test("subjects are counted as MATH-500 publishes them", async () => {
    const { rows } = await loadRows({ path: math500 });
    const counts: Record<string, number> = {};
    for (const r of rows) counts[r.subject!] = (counts[r.subject!] ?? 0) + 1;
    expect(counts).toEqual({
      Algebra: 124, "Intermediate Algebra": 97, Prealgebra: 82, "Number Theory": 62,
      Precalculus: 56, Geometry: 41, "Counting & Probability": 38,
    });
  });

  test("limit stops after that many rows", async () => {
    const { rows } = await loadRows({ path: math500, limit: 3 });
    expect(rows.map((r) => r.unique_id)).toEqual(["test/precalculus/807.json", "test/intermediate_algebra/1994.json", "test/algebra/2584.json"]);
  });
});

describe("malformed lines and missing fields", () => {
  test("a line that is not JSON names its file and line", async () => {
    const path = jsonl("bad-json.jsonl", [row("1+1", "2"), "", '{"problem": "2+2", "answer": ']);
    await expect(loadRows({ path })).rejects.toThrow(
      new DatasetError(path, { line: 3 }, undefined, 'not valid JSON: {"problem": "2+2", "answer":  (or set skip_bad_rows: true to skip and count bad rows)'),
    );
    await expect(loadRows({ path })).rejects.toThrow(
      `${path}:3: not valid JSON: {"problem": "2+2", "answer":  (or set skip_bad_rows: true to skip and count bad rows)`,
    );
  });

  test("the error carries file, line and field as properties", async () => {
    const path = jsonl("no-answer.jsonl", [row("1+1", "2"), JSON.stringify({ problem: "3+3", solution: "6" })]);
    const error = await loadRows({ path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect(error).toMatchObject({ file: path, line: 2, field: "answer" });
    expect((error as Error).message).toBe(
      `${path}:2: answer: missing; the row has problem, solution; set answer_field to the field that holds the answer (or set skip_bad_rows: true to skip and count bad rows)`,
    );
  });

  test("a line that is JSON but not an object is a bad row", async () => {
    const path = jsonl("array-line.jsonl", [row("1+1", "2"), "[1, 2]"]);
    await expect(loadRows({ path })).rejects.toThrow(`${path}:2: expected a JSON object, found an array (or set skip_bad_rows: true to skip and count bad rows)`);
  });

  test("a whole-file JSON array is recognised and the fix named", async () => {
    const path = jsonl("array.json", ["[", row("1+1", "2") + ",", "]"]);
    await expect(loadRows({ path })).rejects.toThrow(
      `${path}:1: not valid JSON: [; this looks like one JSON array, not JSON lines: convert it with jq -c '.[]' in.json > out.jsonl (or set skip_bad_rows: true to skip and count bad rows)`,
    );
  });

  test("a problem of the wrong type or an empty one is a bad row", async () => {
    const numeric = jsonl("numeric-problem.jsonl", [row(7, "7")]);
    await expect(loadRows({ path: numeric })).rejects.toThrow(`${numeric}:1: problem: expected the problem as a string, found a number (or set skip_bad_rows: true to skip and count bad rows)`);
    const empty = jsonl("empty-problem.jsonl", [row("  ", "7")]);
    await expect(loadRows({ path: empty })).rejects.toThrow(`${empty}:1: problem: empty, but every row needs a problem (or set skip_bad_rows: true to skip and count bad rows)`);
  });

  test("a null answer is a bad row; a numeric answer becomes its decimal text", async () => {
    const path = jsonl("answers.jsonl", [row("a", 42), row("b", 0.5), row("c", null)]);
    await expect(loadRows({ path })).rejects.toThrow(`${path}:3: answer: expected the answer as a string or number, found null (or set skip_bad_rows: true to skip and count bad rows)`);
    const { rows } = await loadRows({ path, limit: 2 });
    expect(rows.map((r) => r.answer)).toEqual(["42", "0.5"]);
  });
});

describe("skip_bad_rows", () => {
  const lines = [row("a", "1"), "{oops", row("b", "2"), JSON.stringify({ problem: "c" }), "", "7", row("d", "4")];

  test("bad rows are skipped, counted and warned about once with the count", async () => {
    const path = jsonl("mixed.jsonl", lines);
    const warnings: string[] = [];
    const { rows, skipped } = await loadRows({ path, skip_bad_rows: true }, { onWarning: (m) => warnings.push(m) });
    expect(rows.map((r) => r.problem)).toEqual(["a", "b", "d"]);
    expect(skipped).toBe(3); // line 2 not JSON, line 4 lacks answer, line 6 a number; line 5 is blank, not a row
    expect(warnings).toEqual([`${path}: skipped 3 bad rows of 6 read (skip_bad_rows: true); the first: ${path}:2: not valid JSON: {oops`]);
  });

  test("readRows returns the same summary when the generator is drained", async () => {
    const path = jsonl("mixed-2.jsonl", lines);
    const reader = readRows({ path, skip_bad_rows: true }, { onWarning: () => {} });
    let next = await reader.next();
    while (!next.done) next = await reader.next();
    expect(next.value).toEqual({ rows: 3, skipped: 3 });
  });

  test("without an onWarning the count goes to process warnings", async () => {
    const path = jsonl("mixed-3.jsonl", lines);
    const seen: Error[] = [];
    const listener = (w: Error) => seen.push(w);
    process.on("warning", listener);
    try {
      await loadRows({ path, skip_bad_rows: true });
      await new Promise((r) => setImmediate(r)); // warnings are delivered on a later tick
    } finally {
      process.off("warning", listener);
    }
    expect(seen.map((w) => [w.name, w.message.split(";")[0]])).toEqual([["DatasetWarning", `${path}: skipped 3 bad rows of 6 read (skip_bad_rows: true)`]]);
  });

  test("a file whose every row is bad is an error even when skipping", async () => {
    const path = jsonl("all-bad.jsonl", [JSON.stringify({ question: "a", answer: "1" }), JSON.stringify({ question: "b", answer: "2" })]);
    await expect(loadRows({ path, skip_bad_rows: true })).rejects.toThrow(
      `${path}: every row was bad (2 skipped); the first: ${path}:1: problem: missing; the row has question, answer; set problem_field to the field that holds the problem`,
    );
  });
});

describe("column mapping", () => {
  test("question/final_answer columns load as problem/answer and keep their own names too", async () => {
    const path = jsonl("renamed.jsonl", [JSON.stringify({ question: "What is 6*7?", final_answer: 42, rationale: "6*7=42", id: "q1" })]);
    const { rows } = await loadRows({ path, problem_field: "question", answer_field: "final_answer", fields: { solution: "rationale" } });
    expect(rows).toEqual([{ question: "What is 6*7?", final_answer: 42, rationale: "6*7=42", id: "q1", problem: "What is 6*7?", answer: "42", solution: "6*7=42" }]);
  });

  test("a missing extra rename names the field and the config key", async () => {
    const path = jsonl("renamed-2.jsonl", [JSON.stringify({ question: "q", final_answer: "a" })]);
    await expect(loadRows({ path, problem_field: "question", answer_field: "final_answer", fields: { solution: "rationale" } })).rejects.toThrow(
      `${path}:1: rationale: missing; the row has question, final_answer; set fields.solution to the field that holds the solution (or set skip_bad_rows: true to skip and count bad rows)`,
    );
  });

  test("answer_field: null loads rows that have no answer", async () => {
    const path = jsonl("code.jsonl", [JSON.stringify({ problem: "print 1", tests: { inputs: [""], outputs: ["1"] } })]);
    const { rows } = await loadRows({ path, answer_field: null });
    expect(rows).toEqual([{ problem: "print 1", tests: { inputs: [""], outputs: ["1"] } }]);
  });
});

describe("files and formats", () => {
  test("the format follows the extension, before any .gz, unless set", () => {
    const cases: [string, string][] = [["a.jsonl", "jsonl"], ["a.json", "jsonl"], ["a.JSONL.gz", "jsonl"], ["a.parquet", "parquet"], ["a.arrow", "arrow"], ["a.feather", "arrow"], ["a.ipc", "arrow"]];
    expect(cases.length).toBeGreaterThan(0);
    for (const [path, format] of cases) expect(formatOf({ path })).toBe(format);
    expect(formatOf({ path: "a.txt", format: "jsonl" })).toBe("jsonl");
  });

  test("an unknown extension asks for a format", () => {
    expect(() => formatOf({ path: "data/train.csv" })).toThrow(
      'data/train.csv: cannot tell the format from the extension ".csv"; use one of .jsonl, .json, .ndjson, .parquet, .arrow, .feather, .ipc or set format: jsonl | parquet | arrow',
    );
  });

  test("a missing file says so and where paths start from", async () => {
    await expect(loadRows({ path: join(dir, "nope.jsonl") })).rejects.toThrow(`${join(dir, "nope.jsonl")}: cannot open (ENOENT); paths are relative to ${process.cwd()}`);
  });

  test("gzipped JSON lines are read as they are", async () => {
    const path = join(dir, "small.jsonl.gz");
    writeFileSync(path, gzipSync([row("1+1", "2"), row("2+2", "4")].join("\n")));
    const { rows } = await loadRows({ path });
    expect(rows.map((r) => r.answer)).toEqual(["2", "4"]);
  });

  test("a .jsonl.gz that is not gzip, or is cut short, is a DatasetError naming the file", async () => {
    const plain = join(dir, "plain.jsonl.gz");
    writeFileSync(plain, row("1+1", "2") + "\n");
    const notGzip = await loadRows({ path: plain }).catch((e: unknown) => e);
    expect(notGzip).toBeInstanceOf(DatasetError);
    expect((notGzip as Error).message).toBe(`${plain}: not a gzip file (incorrect header check); rename it to ${join(dir, "plain.jsonl")} if it is plain JSON lines`);
    const cut = join(dir, "cut.jsonl.gz");
    const whole = gzipSync([row("1+1", "2"), row("2+2", "4")].join("\n"));
    writeFileSync(cut, whole.subarray(0, whole.length - 6));
    const truncated = await loadRows({ path: cut }).catch((e: unknown) => e);
    expect(truncated).toBeInstanceOf(DatasetError);
    expect((truncated as Error).message).toBe(`${cut}: the gzip data is damaged or cut short (unexpected end of file)`);
  });

  test("a byte-order mark before the first line is not part of the row", async () => {
    const path = jsonl("bom.jsonl", ["\uFEFF" + row("1+1", "2")]);
    expect((await loadRows({ path })).rows).toEqual([{ problem: "1+1", answer: "2" }]);
  });

  test("a misspelt config key is an error, not ignored", () => {
    expect(() => DatasetFileConfig.parse({ path: "a.jsonl", skip_bad_row: true })).toThrow(/skip_bad_row/);
  });
});
