/** `rlvr eval` as a user meets it: usage errors in one line, an unreachable endpoint, the progress bar on a terminal. */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "scripts/rlvr.mjs");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-eval-cli-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rlvr = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8" });
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

test("neither --model nor --endpoint: one line naming both, no stack trace, exit 1", () => {
  const r = rlvr("eval", "--dataset", "x.jsonl");
  expect(r.status).toBe(1);
  expect(r.stderr).toBe("rlvr eval: give exactly one of --model <checkpoint> or --endpoint <url>\n");
  expect(r.stdout).toBe("");
  const noName = rlvr("eval", "--dataset", "x.jsonl", "--endpoint", "http://127.0.0.1:9/v1");
  expect(noName.status).toBe(1);
  expect(noName.stderr).toBe("rlvr eval: --endpoint needs --model-name\n");
  const tokens = rlvr("eval", "--dataset", "x.jsonl", "--model", "m", "--max-tokens", "0");
  expect(tokens.stderr).toBe("rlvr eval: --max-tokens must be a positive integer\n");
}, 60_000);

test("an endpoint nobody answers at: the retries, then one line naming the URL, exit 1, nothing written", async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const out = path.join(tmp, "unreachable.jsonl");
  const r = rlvr("eval", "--dataset", "synthetic:arith?count=2", "--endpoint", `http://127.0.0.1:${port}/v1`, "--model-name", "m", "--max-retries", "1", "--out", out);
  expect(r.status).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^retry 1 in [\\d.]+ s: cannot reach http://127.0.0.1:${port}/v1/models`));
  expect(lines[1]).toMatch(new RegExp(`^rlvr eval: http://127.0.0.1:${port}/v1: gave up after 2 attempts: cannot reach http://127.0.0.1:${port}/v1/models: fetch failed \\(.*ECONNREFUSED`));
  expect(fs.existsSync(out)).toBe(false);
}, 60_000);

const evalArgs = (out: string) => ["eval", "--dataset", "synthetic:arith?level=1&count=4&seed=3", "--model", "checkpoints/arith-base", "--k", "2", "--max-tokens", "8", "--backend", "wasm", "--out", out];

test("on a terminal a progress bar with pass@1 and an ETA; piped, a line per chunk of problems and no bar", () => {
  // script(1) runs the command on a pseudo-terminal, as a user's shell would
  const command = [process.execPath, CLI, ...evalArgs(path.join(tmp, "tty.jsonl"))].map(shellQuote).join(" ");
  const r = spawnSync("script", ["-qfec", command, "/dev/null"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, COLUMNS: "120", LINES: "40" } });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/eval .*4\/4 \| pass@1 \d+\.\d% \| ETA/);
  expect(r.stdout).not.toContain("problems  pass@1 so far");
  expect(r.stdout).toMatch(/overall\s+4\s/);

  const piped = rlvr(...evalArgs(path.join(tmp, "piped.jsonl")));
  expect(piped.status).toBe(0);
  expect(piped.stdout).toMatch(/^4\/4 problems {2}pass@1 so far \d+\.\d% {2}\d+ s$/m);
  expect(piped.stdout + piped.stderr).not.toContain("ETA");
}, 180_000);

test("--workers 2 writes the same samples as one process, and says so; --workers with --endpoint is refused in one line", () => {
  const args = (w: string, out: string) => ["eval", "--dataset", "synthetic:arith?level=1-2&count=7&seed=5", "--model", "checkpoints/arith-base", "--k", "3", "--temperature", "1", "--max-tokens", "12", "--backend", "wasm", "--workers", w, "--out", out];
  const one = rlvr(...args("1", path.join(tmp, "w1.jsonl")));
  const two = rlvr(...args("2", path.join(tmp, "w2.jsonl")));
  expect(one.status).toBe(0);
  expect(two.status).toBe(0);
  expect(two.stdout).toMatch(/^backend wasm, matrix products on .+, 2 workers, checkpoint/m);
  const samples = (f: string) => fs.readFileSync(path.join(tmp, f), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const [a, b] = [samples("w1.jsonl"), samples("w2.jsonl")];
  expect(a).toHaveLength(21);
  // the sampled texts differ from sample to sample, so equality says each (problem, sample) drew the same tokens
  expect(new Set(a.map((r) => r.completion)).size).toBeGreaterThan(3);
  expect(b).toEqual(a);

  const endpoint = rlvr("eval", "--dataset", "x.jsonl", "--endpoint", "http://127.0.0.1:9/v1", "--model-name", "m", "--workers", "2");
  expect(endpoint.status).toBe(1);
  expect(endpoint.stderr).toBe("rlvr eval: --workers needs --model (an endpoint serves its own requests)\n");
}, 180_000);
