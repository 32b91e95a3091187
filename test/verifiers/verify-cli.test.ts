import { describe, expect, test } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const fixtures = fileURLToPath(new URL("../fixtures/verifiers/", import.meta.url));
const cli = join(root, "scripts/rlvr.mjs");

/** Runs `rlvr verify …` as a child process; never rejects, whatever the exit code. */
function rlvr(args: string[], cwd = root): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, "verify", ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}
const readJsonl = (file: string) => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const tmp = () => mkdtempSync(join(tmpdir(), "rlvr-verify-"));

describe("rlvr verify", () => {
  test("scores every well-formed row in order, reports malformed lines with file:line, and summarizes", async () => {
    const input = join(fixtures, "countdown-rows.jsonl");
    const output = join(tmp(), "out", "scored.jsonl");
    const run = await rlvr(["--verifier", "countdown", "--input", input, "--output", output, "--concurrency", "2"]);
    expect(run.code, run.stderr).toBe(0);
    const rows = readJsonl(output);
    expect(rows.map((r) => [r.id, r.reward, r.reason])).toEqual([
      ["r1", 1, "correct"], ["r2", 0, "wrong_value"], ["r5", 0, "no_answer"], ["r6", 1, "correct"],
    ]);
    // the input row comes back whole, with the verifier's details under `verify`
    expect(rows[1]).toMatchObject({ numbers: [25, 5, 3, 7], target: 67, verify: { value: "40" } });
    expect(run.stderr).toContain(`${input}:3: malformed JSON (`);
    expect(run.stderr).toContain(`${input}:4: missing string field "completion"; line skipped`);
    expect(run.stdout).toMatch(/^rlvr verify: scored 4 rows with countdown in \d+\.\d s; 2 malformed lines skipped$/m);
    expect(run.stdout).toContain("  reward: mean 0.5000 over 4 judged rows (0 null)");
    expect(run.stdout).toContain("  reasons: correct 2, wrong_value 1, no_answer 1");
    expect(run.stdout).toContain("  errors: 0 (0 timeouts)");
    expect(run.stdout).toMatch(/ {2}time per row: p50 \d+\.\d ms, p99 \d+\.\d ms/);
  });

  test("a custom module by relative path: a hanging row times out, is counted, and the next row is scored", async () => {
    const output = join(tmp(), "scored.jsonl");
    const run = await rlvr(["--verifier", "./hangs.ts", "--input", "hang-rows.jsonl", "--output", output, "--timeout-ms", "3000"], fixtures); // any limit cuts h1 off; h2 gets room on a loaded host
    expect(run.code, run.stderr).toBe(0);
    expect(readJsonl(output).map((r) => [r.id, r.reward, r.reason, r.verify.error])).toEqual([
      ["h1", 0, "timeout", true], ["h2", 1, "done", undefined],
    ]);
    expect(run.stdout).toContain("  errors: 1 (1 timeouts)");
  });

  test("--answer-field hands another field to the verifier as row.answer", async () => {
    const output = join(tmp(), "scored.jsonl");
    const input = join(fixtures, "gold-rows.jsonl");
    const run = await rlvr(["--verifier", join(fixtures, "contains-answer.ts"), "--input", input, "--output", output, "--answer-field", "gold"]);
    expect(run.code, run.stderr).toBe(0);
    expect(readJsonl(output).map((r) => [r.id, r.reward, r.reason])).toEqual([["g1", 1, "found"], ["g2", 0, "missing"]]);
  });

  test("a missing input file exits 1 with a clear message", async () => {
    const input = join(tmp(), "nope.jsonl");
    const run = await rlvr(["--verifier", "countdown", "--input", input, "--output", join(tmp(), "o.jsonl")]);
    expect([run.code, run.stderr.trim()]).toEqual([1, `rlvr verify: input file not found: ${input}`]);
  });

  test("a module with a bad export exits 1 naming the file", async () => {
    const run = await rlvr(["--verifier", "./bad-export.ts", "--input", "hang-rows.jsonl", "--output", join(tmp(), "o.jsonl")], fixtures);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`rlvr verify: ${join(fixtures, "bad-export.ts")}: no verifier export (found: helper, threshold)`);
  });
});
