import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
// the timeout only stops a command that wrongly goes on (serve listening on a damaged checkpoint)
const rlvr = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

test("rlvr --help lists every subcommand and the backend option", () => {
  const r = rlvr("--help");
  expect(r.status).toBe(0);
  for (const command of ["pretrain <recipe>", "train <recipe>", "eval", "verify", "serve <checkpoint>", "report <run>", "bench"]) {
    expect(r.stdout).toContain(`rlvr ${command}`);
  }
  expect(r.stdout).toContain('[choices: "auto", "wasm", "cpu", "node", "node-gpu"]');
});

/** The run failed with exactly one line on stderr, `rlvr…: <message>`, and no stack frame. */
function expectOneLine(r: ReturnType<typeof rlvr>): string {
  expect(r.status, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(lines[0]).toMatch(/^rlvr[ :]/);
  return lines[0];
}

const COMMANDS = "the commands are pretrain, train, eval, verify, serve, report, bench";

test("an unknown command says so and lists the commands, whatever flags follow it", () => {
  expect(expectOneLine(rlvr("evaluate", "--dataset", "x"))).toBe(`rlvr: unknown command "evaluate" (did you mean eval?); ${COMMANDS} (see rlvr --help)`);
  expect(expectOneLine(rlvr("--backend", "cpu", "frobnicate"))).toBe(`rlvr: unknown command "frobnicate"; ${COMMANDS} (see rlvr --help)`);
});

test("yargs' own usage errors and an argument check's error are one line", () => {
  expect(expectOneLine(rlvr("bench", "--backend", "tpu"))).toBe('rlvr: Invalid values: Argument: backend, Given: "tpu", Choices: "auto", "wasm", "cpu", "node", "node-gpu" (see rlvr --help)');
  expect(expectOneLine(rlvr())).toBe("rlvr: Name a command; see rlvr --help.");
  expect(expectOneLine(rlvr("report"))).toBe("rlvr: Not enough non-option arguments: got 0, need at least 1 (see rlvr --help)");
  // eval's .check() throws: a usage error, not a bug
  expect(expectOneLine(rlvr("eval", "--dataset", "synthetic:arith"))).toContain("--model");
});

test("--backend node-gpu without its package is one line saying how to install it", () => {
  // @tensorflow/tfjs-node-gpu is an optional peer dependency, absent from a clone
  expect(expectOneLine(rlvr("bench", "--only", "model", "--quick", "--backend", "node-gpu"))).toBe(
    'rlvr: backend "node-gpu" needs @tensorflow/tfjs-node-gpu, which is not installed: run `npm install @tensorflow/tfjs-node-gpu`, or use --backend auto (falls back to wasm)',
  );
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

describe("damaged inputs are one line naming the file", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-cli-inputs-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const base = path.join(ROOT, "checkpoints/arith-base");

  test("a truncated model.safetensors", () => {
    const dir = path.join(tmp, "cut");
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(base, "state.json"), path.join(dir, "state.json"));
    const bytes = fs.readFileSync(path.join(base, "model.safetensors"));
    fs.writeFileSync(path.join(dir, "model.safetensors"), bytes.subarray(0, bytes.length >> 1));
    const r = rlvr("serve", dir, "--port", "0", "--backend", "cpu");
    expect(expectOneLine(r)).toMatch(new RegExp(`^rlvr( serve)?: ${escape(path.join(dir, "model.safetensors"))}: truncated: tensor \\S+ ends at byte \\d+ of \\d+$`));
  });

  test("a .jsonl.gz that is not gzip, a recipe's missing verifier module, and its unknown synthetic task at its own line", () => {
    const data = path.join(tmp, "train.jsonl.gz");
    fs.writeFileSync(data, '{"problem": "1+1", "answer": "2"}\n');
    const recipe = (name: string, train: string) => {
      const file = path.join(tmp, name);
      fs.writeFileSync(file, `name: ${name}\nbase: ${base}\noutput_dir: ${tmp}\ndata:\n  train: ${train}\nverifiers:\n  - { name: math, weight: 1 }\n`);
      return file;
    };
    const gz = recipe("gz.yaml", `{ file: { path: ${data} } }`);
    expect(expectOneLine(rlvr("train", gz, "--backend", "cpu"))).toBe(`rlvr: ${data}: not a gzip file (incorrect header check); rename it to ${data.slice(0, -3)} if it is plain JSON lines`);
    const verifier = path.join(tmp, "verifier.yaml");
    fs.writeFileSync(verifier, fs.readFileSync(gz, "utf8").replace(`{ file: { path: ${data} } }`, "synthetic:arith?count=4").replace("name: math", "name: ./nope.ts"));
    expect(expectOneLine(rlvr("train", verifier, "--backend", "cpu"))).toMatch(/^rlvr( train)?: .*\.\/nope\.ts: no such file \(looked for .*nope\.ts\)$/);
    const task = recipe("task.yaml", "synthetic:aritj?level=1");
    expect(expectOneLine(rlvr("train", task, "--backend", "cpu"))).toMatch(
      new RegExp(`^rlvr( train)?: ${escape(task)}:5: data\\.train\\.synthetic\\.task: unknown task "aritj"; the tasks are arith, countdown, linear, chain, program$`),
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
