/**
 * Parquet and Arrow IPC files written by other libraries than the ones the loader reads with:
 * Parquet by @dsnp/parquetjs (read by hyparquet), Arrow by @uwdata/flechette (read by apache-arrow).
 * The writers' own readers count the row groups and batches, so "multi" is checked independently.
 */
import parquet from "@dsnp/parquetjs";
import * as flechette from "@uwdata/flechette";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { loadRows } from "../../datasets/loaders.ts";

const dir = mkdtempSync(join(tmpdir(), "rlvr-columnar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const BIG = 2n ** 60n; // past Number.MAX_SAFE_INTEGER: must come back as its decimal string

/** The source data, as the writers take it: a string, int64, int32, float, nullable and list column. */
const source = {
  problem: ["1+1", "2*3", "7-9", "10/4", "2^10", "√16", "0!"],
  answer: ["2", "6", "-2", "2.5", "1024", "4", "1"],
  level: [1n, 2n, -3n, BIG, 5n, 0n, 7n],
  small: [10, 20, 30, 40, 50, 60, 70],
  score: [0.5, 1.25, -2, 1e-300, 3.5, 0, 6.75],
  note: ["easy", null, "negative", null, "power", null, "factorial"],
  tags: [["add"], [], null, ["div", "frac"], ["pow"], ["root", "int", "sq"], ["fact"]],
};

/** What every format must load: the oracle written out by hand from `source`. */
const expected = [
  { problem: "1+1", answer: "2", level: 1, small: 10, score: 0.5, note: "easy", tags: ["add"] },
  { problem: "2*3", answer: "6", level: 2, small: 20, score: 1.25, note: null, tags: [] },
  { problem: "7-9", answer: "-2", level: -3, small: 30, score: -2, note: "negative", tags: null },
  { problem: "10/4", answer: "2.5", level: "1152921504606846976", small: 40, score: 1e-300, note: null, tags: ["div", "frac"] },
  { problem: "2^10", answer: "1024", level: 5, small: 50, score: 3.5, note: "power", tags: ["pow"] },
  { problem: "√16", answer: "4", level: 0, small: 60, score: 0, note: null, tags: ["root", "int", "sq"] },
  { problem: "0!", answer: "1", level: 7, small: 70, score: 6.75, note: "factorial", tags: ["fact"] },
];

const columns = (data: typeof source) => Object.keys(data) as (keyof typeof source)[];

/** Write `data` as Parquet with parquetjs, `rowGroupRows` rows per row group; answers optional. */
async function writeParquet(name: string, data: typeof source, rowGroupRows: number, compression = "SNAPPY"): Promise<string> {
  const path = join(dir, name);
  const schema = new parquet.ParquetSchema({
    problem: { type: "UTF8" },
    answer: { type: "UTF8", optional: true },
    level: { type: "INT64" },
    small: { type: "INT32" },
    score: { type: "DOUBLE" },
    note: { type: "UTF8", optional: true },
    // the three-level LIST that pyarrow (and so Hugging Face) writes
    tags: { type: "LIST", optional: true, fields: { list: { repeated: true, fields: { element: { type: "UTF8" } } } } },
  });
  const writer = await parquet.ParquetWriter.openFile(schema, path, { compression } as object);
  writer.setRowGroupSize(rowGroupRows);
  for (let i = 0; i < data.problem.length; i++) {
    const tags = data.tags[i];
    await writer.appendRow({
      ...Object.fromEntries(columns(data).map((c) => [c, data[c][i] ?? undefined])),
      tags: tags === null ? undefined : { list: tags.map((element) => ({ element })) },
    });
  }
  await writer.close();
  return path;
}

/** Write `data` as Arrow IPC with flechette, `batchRows` rows per record batch. */
function writeArrow(name: string, data: typeof source, batchRows: number, format: "file" | "stream"): string {
  const path = join(dir, name);
  const table = flechette.tableFromArrays(data, {
    maxBatchRows: batchRows,
    types: { level: flechette.int64(), small: flechette.int32(), score: flechette.float64(), tags: flechette.list(flechette.utf8()) },
  });
  writeFileSync(path, flechette.tableToIPC(table, { format })!);
  return path;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const withNullAnswer = { ...source, answer: source.answer.map((a, i) => (i === 4 ? null : a)) } as unknown as typeof source;

describe("Parquet written by @dsnp/parquetjs", () => {
  test("three row groups load as the seven rows written", async () => {
    const path = await writeParquet("rows.parquet", source, 3);
    const reader = await parquet.ParquetReader.openFile(path);
    expect(reader.metadata!.row_groups.length).toBe(3);
    await reader.close();
    const { rows, skipped } = await loadRows({ path });
    expect(skipped).toBe(0);
    expect(rows).toEqual(expected);
  });

  test("gzip pages decode through hyparquet-compressors", async () => {
    const path = await writeParquet("gzip.parquet", source, 4, "GZIP");
    expect((await loadRows({ path })).rows).toEqual(expected);
  });

  test("limit stops partway through the second row group", async () => {
    const path = await writeParquet("limit.parquet", source, 3);
    expect((await loadRows({ path, limit: 4 })).rows).toEqual(expected.slice(0, 4));
  });

  test("a bad row names its row and row group", async () => {
    const path = await writeParquet("null-answer.parquet", withNullAnswer, 3);
    await expect(loadRows({ path })).rejects.toThrow(
      `${path}: row 4 (row group 1): answer: expected the answer as a string or number, found null (or set skip_bad_rows: true to skip and count bad rows)`,
    );
    const warnings: string[] = [];
    const { rows, skipped } = await loadRows({ path, skip_bad_rows: true }, { onWarning: (m) => warnings.push(m) });
    expect(skipped).toBe(1);
    expect(rows.map((r) => r.problem)).toEqual(["1+1", "2*3", "7-9", "10/4", "√16", "0!"]);
    expect(warnings).toEqual([
      `${path}: skipped 1 bad row of 7 read (skip_bad_rows: true); the first: ${path}: row 4 (row group 1): answer: expected the answer as a string or number, found null`,
    ]);
  });

  test("a mapped column the schema lacks is named with the columns there are", async () => {
    const path = await writeParquet("columns.parquet", source, 3);
    await expect(loadRows({ path, problem_field: "question" })).rejects.toThrow(
      `${path}: question: no such column; the columns are problem, answer, level, small, score, note, tags; set problem_field to the column that holds the problem`,
    );
  });

  test("a row group is decoded only when reached: a corrupt third one fails only a full read", async () => {
    const path = await writeParquet("corrupt.parquet", source, 3, "UNCOMPRESSED");
    const reader = await parquet.ParquetReader.openFile(path);
    const offset = Number(reader.metadata!.row_groups[2].columns[0].meta_data!.data_page_offset);
    await reader.close();
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(8, 0xff), 0, 8, offset); // overwrite the third row group's first page header
    closeSync(fd);
    expect((await loadRows({ path, limit: 6 })).rows).toEqual(expected.slice(0, 6));
    await expect(loadRows({ path })).rejects.toThrow(
      new RegExp(`^${escape(path)}: row 6 \\(row group 2\\): cannot decode row group 2 \\(.+\\); the file may be truncated or use an unsupported encoding$`),
    );
  });

  test("a file that is not Parquet says so", async () => {
    const path = join(dir, "fake.parquet");
    writeFileSync(path, "problem,answer\n1+1,2\n");
    await expect(loadRows({ path })).rejects.toThrow(new RegExp(`^${escape(path)}: not a readable Parquet file \\(`));
  });
});

describe("Arrow IPC written by @uwdata/flechette", () => {
  for (const format of ["file", "stream"] as const) {
    test(`three record batches in the IPC ${format} format load as the seven rows written`, async () => {
      const path = writeArrow(`rows-${format}.arrow`, source, 3, format);
      const batches = flechette.tableFromIPC(readFileSync(path)).getChildAt(0).data.length;
      expect(batches).toBe(3);
      const { rows, skipped } = await loadRows({ path });
      expect(skipped).toBe(0);
      expect(rows).toEqual(expected);
    });
  }

  test("a truncated stream yields its whole batches, then names the batch it could not read", async () => {
    const bytes = readFileSync(writeArrow("whole.arrow", source, 3, "stream"));
    const path = join(dir, "truncated.arrow");
    writeFileSync(path, bytes.subarray(0, bytes.length - 40)); // cuts into the third batch's body
    expect((await loadRows({ path, limit: 6 })).rows).toEqual(expected.slice(0, 6));
    await expect(loadRows({ path })).rejects.toThrow(
      new RegExp(`^${escape(path)}: row 6 \\(batch 2\\): cannot decode record batch 2 \\(.+\\); the file may be truncated$`),
    );
  });

  test("a mapped column the schema lacks is named before any batch is read", async () => {
    const path = writeArrow("columns.arrow", source, 3, "file");
    await expect(loadRows({ path, answer_field: "final_answer" })).rejects.toThrow(
      `${path}: final_answer: no such column; the columns are problem, answer, level, small, score, note, tags; set answer_field to the column that holds the answer`,
    );
  });

  test("a file that is not Arrow IPC says so", async () => {
    const path = join(dir, "fake.arrow");
    writeFileSync(path, "problem,answer\n1+1,2\n");
    await expect(loadRows({ path })).rejects.toThrow(new RegExp(`^${escape(path)}: not a readable Arrow IPC file \\(`));
  });

  test("large_string columns, as Hugging Face datasets caches write them, read as strings", async () => {
    const path = join(dir, "large.arrow");
    const table = flechette.tableFromArrays({ problem: ["a", "b"], answer: ["1", "2"] }, { types: { problem: flechette.largeUtf8(), answer: flechette.largeUtf8() } });
    writeFileSync(path, flechette.tableToIPC(table, { format: "stream" })!);
    expect((await loadRows({ path })).rows).toEqual([{ problem: "a", answer: "1" }, { problem: "b", answer: "2" }]);
  });

  test("a struct column loads as plain objects and the extension .feather as Arrow", async () => {
    const path = join(dir, "struct.feather");
    const table = flechette.tableFromArrays(
      { problem: ["a", "b"], answer: ["1", "2"], meta: [{ source: "x", year: 2021 }, { source: "y", year: null }] },
      { types: { meta: flechette.struct({ source: flechette.utf8(), year: flechette.int32() }) } },
    );
    writeFileSync(path, flechette.tableToIPC(table, { format: "file" })!);
    const { rows } = await loadRows({ path });
    expect(rows).toEqual([
      { problem: "a", answer: "1", meta: { source: "x", year: 2021 } },
      { problem: "b", answer: "2", meta: { source: "y", year: null } },
    ]);
  });

  test("a bad row names its row and batch", async () => {
    const path = writeArrow("null-answer.arrow", withNullAnswer, 3, "stream");
    await expect(loadRows({ path })).rejects.toThrow(
      `${path}: row 4 (batch 1): answer: expected the answer as a string or number, found null (or set skip_bad_rows: true to skip and count bad rows)`,
    );
    const { skipped } = await loadRows({ path, skip_bad_rows: true }, { onWarning: () => {} });
    expect(skipped).toBe(1);
  });

  test("question/final_answer columns map onto problem/answer and keep their own names", async () => {
    const path = join(dir, "renamed.arrow");
    const table = flechette.tableFromArrays({ question: ["6*7", "2+2"], final_answer: [42, 4] }, { types: { final_answer: flechette.int64() } });
    writeFileSync(path, flechette.tableToIPC(table, { format: "stream" })!);
    const { rows } = await loadRows({ path, problem_field: "question", answer_field: "final_answer" });
    expect(rows).toEqual([
      { question: "6*7", final_answer: 42, problem: "6*7", answer: "42" },
      { question: "2+2", final_answer: 4, problem: "2+2", answer: "4" },
    ]);
  });
});
