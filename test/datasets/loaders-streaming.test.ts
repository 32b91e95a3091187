/**
 * Streaming: a generated 200k-line JSONL (~40 MB) is read while the heap that survives a full GC is
 * sampled; its growth must stay under a tenth of the file's size. The same check applied to a
 * read-everything loader (readFile + split + JSON.parse) must fail, or the check proves nothing.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { readRows } from "../../datasets/loaders.ts";

const LINES = 200_000;
const SAMPLE_EVERY = 20_000;
const BOUND = 0.1; // allowed growth of the retained heap, as a fraction of the file's bytes

// a GC we can call without --expose-gc on the command line: the flag applies to new contexts
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const dir = mkdtempSync(join(tmpdir(), "rlvr-stream-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, "big.jsonl");
let fileBytes = 0;

beforeAll(async () => {
  const out = createWriteStream(path);
  for (let i = 0; i < LINES; i++) {
    const line = JSON.stringify({ problem: `Compute ${i} + ${i * 7} and explain each step of the sum carefully.`, answer: String(i * 8), level: i % 5, pad: "x".repeat(80) });
    if (!out.write(line + "\n")) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  fileBytes = statSync(path).size;
});

/** Growth of the heap left after a full GC, sampled by `sample()` during `run`; the largest, in bytes. */
async function retainedGrowth(run: (sample: () => void) => Promise<void>): Promise<number> {
  gc();
  const base = process.memoryUsage().heapUsed;
  let most = 0;
  await run(() => {
    gc();
    most = Math.max(most, process.memoryUsage().heapUsed - base);
  });
  return most;
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

test("a 200k-line JSONL streams with the retained heap under a tenth of the file's size", async () => {
  let count = 0;
  let answers = 0;
  const growth = await retainedGrowth(async (sample) => {
    for await (const row of readRows({ path })) {
      count += 1;
      answers += Number(row.answer); // use each row so none is optimised away
      if (count % SAMPLE_EVERY === 0) sample();
    }
  });
  console.log(`streaming: file ${mb(fileBytes)} MB, retained heap growth at most ${mb(growth)} MB`);
  expect(count).toBe(LINES);
  expect(answers).toBe(8 * (LINES * (LINES - 1)) / 2);
  expect(fileBytes).toBeGreaterThan(30e6);
  expect(growth).toBeLessThan(BOUND * fileBytes);
});

test("reading the whole file into memory fails the same check", async () => {
  let rows: unknown[] = [];
  const growth = await retainedGrowth(async (sample) => {
    const text = await readFile(path, "utf8");
    rows = text.trim().split("\n").map((line) => JSON.parse(line));
    sample();
  });
  console.log(`read-all: file ${mb(fileBytes)} MB, retained heap growth ${mb(growth)} MB`);
  expect(rows.length).toBe(LINES);
  expect(growth).toBeGreaterThan(BOUND * fileBytes);
});
