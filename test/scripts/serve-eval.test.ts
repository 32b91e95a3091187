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
