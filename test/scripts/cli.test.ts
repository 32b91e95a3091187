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

test("an error inside a running command is one clear line on stderr, not a dump of the wasm backend's source", async () => {
  const fs = await import("node:fs");
  const os = await import("node:os");
  const { saveCheckpoint } = await import("../../trainer/model/checkpoint.ts");
  const { Transformer } = await import("../../trainer/model/transformer.ts");
  const { initBackend } = await import("../../trainer/backend.ts");
  const { tinyConfig } = await import("../helpers.ts");
  await initBackend("wasm");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-cli-"));
  try {
    // weights of a learned-positions model under a config that says rope: found when the trainer loads it
    const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 64 }), 1);
    saveCheckpoint(path.join(tmp, "base"), model, { step: 0 });
    model.dispose();
    const statePath = path.join(tmp, "base", "state.json");
    const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
    state.model.positions = "rope";
    fs.writeFileSync(statePath, JSON.stringify(state));
    fs.writeFileSync(path.join(tmp, "r.yaml"), `name: r\nbase: ${path.join(tmp, "base")}\noutput_dir: ${tmp}\ndata:\n  train:\n    synthetic: { task: arith, count: 4, level: 1 }\nverifiers:\n  - { name: math, weight: 1 }\n`);
    const r = rlvr("train", path.join(tmp, "r.yaml"), "--backend", "wasm");
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^rlvr: .*model\.safetensors: unexpected tensor pos_emb\.weight \(not part of this model config\)$/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
