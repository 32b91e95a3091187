/** `rlvr eval --endpoint` against `rlvr serve`, end to end: our client and our server over real HTTP. */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startServer } from "../../scripts/serve/server.ts";
import { initBackend } from "../../trainer/backend.ts";
import { summaryPathOf } from "../../trainer/eval/results.ts";
import { loadCheckpoint } from "../../trainer/model/checkpoint.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-serve-eval-"));
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  await initBackend("wasm");
  const { model, state } = loadCheckpoint(path.join(ROOT, "checkpoints/arith-base"));
  server = await startServer({ model, tokenizer: makeTokenizer(state.model.tokenizer), modelName: "arith-base", port: 0 });
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function rlvr(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), ...args], { cwd: ROOT });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test.each(["chat", "completion"] as const)("rlvr eval --endpoint grades what rlvr serve answers (%s API)", async (api) => {
  const out = path.join(tmp, `${api}.jsonl`);
  const r = await rlvr(["eval", "--dataset", "synthetic:arith?level=1&count=6&seed=4", "--endpoint", `${server.url}/v1`, "--model-name", "arith-base",
    "--api", api, "--template", "rlvr", "--k", "3", "--temperature", "1", "--max-tokens", "48", "--concurrency", "4", "--out", out]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/overall\s+6\s/);
  const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(lines).toHaveLength(18);
  for (const l of lines) {
    // the server's usage counts the sampled tokens, <eos> included: at least the bytes of the text
    expect(l.tokens).toBeGreaterThanOrEqual(Buffer.byteLength(l.completion));
    expect(l.tokens).toBeLessThanOrEqual(48);
    expect(l.completion).toMatch(/=/); // the base model writes its working
  }
  const summary = JSON.parse(fs.readFileSync(summaryPathOf(out), "utf8"));
  expect(summary.overall.n).toBe(6);
  expect(summary.overall["pass@k"]["3"]).toBeGreaterThanOrEqual(summary.overall["pass@1"]);
  expect(summary.overall.mean_tokens).toBeCloseTo(lines.reduce((s, l) => s + l.tokens, 0) / 18, 9);
}, 120_000);

test("with its defaults (max_tokens 2048 against a 256-token context): each budget is cut to fit, a prompt past the context fails only its samples", async () => {
  const data = path.join(tmp, "defaults.jsonl");
  const rows = [
    { problem: "Ann has 3 pens. She buys 2 pens. How many pens now?", answer: "5", unique_id: "short-1" },
    { problem: "What is 7 + 6?", answer: "13", unique_id: "short-2" },
    { problem: `Add up these numbers: ${Array.from({ length: 60 }, (_, i) => i + 1).join(", ")}.`, answer: "1830", unique_id: "long" },
  ];
  fs.writeFileSync(data, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const out = path.join(tmp, "defaults-out.jsonl");
  const r = await rlvr(["eval", "--dataset", data, "--endpoint", `${server.url}/v1`, "--model-name", "arith-base", "--out", out]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`endpoint ${server.url}/v1, model arith-base: context 256 tokens (max_tokens is cut to fit it)`);
  expect(r.stdout).toMatch(/errors: 4 of 12 samples failed and count as incorrect/);
  expect(r.stdout).toContain("max_tokens cut to fit the model's context for 8 of 12 samples");
  const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.map((l) => l.id)).toEqual([...Array(4).fill("short-1"), ...Array(4).fill("short-2"), ...Array(4).fill("long")]);
  for (const l of lines.slice(8)) expect(l.error).toMatch(/^HTTP 400 from .*\/v1\/chat\/completions: .*context/);
  for (const id of ["short-1", "short-2"]) {
    const budgets = new Set(lines.filter((l) => l.id === id).map((l) => l.max_tokens));
    expect(budgets.size).toBe(1); // the room the server counted for that prompt
    const [budget] = budgets;
    expect(budget).toBeGreaterThan(100);
    expect(budget).toBeLessThan(256);
    for (const l of lines.filter((x) => x.id === id)) {
      expect(l.error).toBeUndefined();
      expect(l.tokens).toBeLessThanOrEqual(budget);
    }
  }
  const summary = JSON.parse(fs.readFileSync(summaryPathOf(out), "utf8"));
  expect(summary.overall.errors).toBe(4);
  expect(summary.capped).toBe(8);
}, 180_000);

test("a --model-name the server does not serve ends the run at the first request, in one line naming what it serves", async () => {
  const out = path.join(tmp, "wrong-name.jsonl");
  const r = await rlvr(["eval", "--dataset", "synthetic:arith?level=1&count=2&seed=4", "--endpoint", `${server.url}/v1`, "--model-name", "m", "--max-tokens", "8", "--out", out]);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain(`endpoint ${server.url}/v1, model m (not among the models it lists: arith-base): context length not reported`);
  // the server's own wording is the serve engineer's; the client adds what /v1/models lists
  expect(r.stderr).toMatch(new RegExp(`^rlvr eval: HTTP 404 from ${server.url}/v1/chat/completions: [^\n]*"m"[^\n]* \\(${server.url}/v1/models lists "arith-base"\\)\n$`));
}, 120_000);
