import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect, test } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const rlvr = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), ...args], { cwd: ROOT, encoding: "utf8" });

test("rlvr --help lists every subcommand and the backend option", () => {
  const r = rlvr("--help");
  expect(r.status).toBe(0);
  for (const command of ["pretrain <recipe>", "train <recipe>", "eval", "verify", "serve <checkpoint>", "report <run>", "bench"]) {
    expect(r.stdout).toContain(`rlvr ${command}`);
  }
  expect(r.stdout).toContain('[choices: "auto", "wasm", "cpu", "node", "node-gpu"]');
});

test("an unknown command or a bad backend is a one-line user error", () => {
  const r = rlvr("frobnicate");
  expect(r.status).toBe(1);
  expect(r.stderr).toContain("rlvr: Unknown argument: frobnicate");
  const b = rlvr("bench", "--backend", "tpu");
  expect(b.status).toBe(1);
  expect(b.stderr).toContain("Invalid values");
});

test("recipes/CONFIG.md is generated from the schemas and up to date (npm run docs:config)", async () => {
  const { configMarkdown } = await import("../../scripts/config-docs.ts");
  const fs = await import("node:fs");
  expect(fs.readFileSync(path.join(ROOT, "recipes/CONFIG.md"), "utf8")).toBe(configMarkdown());
});
