/**
 * The run-safety journey as a user meets it on the command line: a re-used run name, a huge lr,
 * Ctrl-C, a typo in the held-out verifier, and --help.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadCheckpoint } from "../../trainer/model/checkpoint.ts";
import { rlvr, RLVR, ROOT, saveTinyBase, tinyRecipe } from "./cli-runs.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-safety-"));
beforeAll(() => saveTinyBase(path.join(tmp, "base")));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function recipe(name: string, train = "steps: 2, prompts_per_step: 2, save_every: 1, keep_last: 1", extra = ""): string {
  return tinyRecipe(tmp, name, train, { extra });
}
const runFiles = (name: string) => fs.readdirSync(path.join(tmp, name), { recursive: true }).map(String).sort();
const steps = (name: string) => fs.readFileSync(path.join(tmp, name, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).step);
const oneLine = (stderr: string) => stderr.trim().split("\n").filter((l) => !/^Hi, looks like|^=+$|tfjs-node/.test(l));

test("re-using a run name is refused in one line naming --resume and --overwrite; --overwrite starts over", () => {
  const file = recipe("reuse", "steps: 3, prompts_per_step: 2, save_every: 1, keep_last: 3");
  expect(rlvr("train", file, "--backend", "wasm").status).toBe(0);
  const before = runFiles("reuse");
  const again = rlvr("train", file, "--backend", "wasm", "--set", "optimizer.lr=0.003", "--set", "train.steps=2");
  expect(again.status).toBe(1);
  const lines = oneLine(again.stderr);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`${path.join(tmp, "reuse")} already holds a run`);
  expect(lines[0]).toMatch(/--resume.*--overwrite/);
  expect(runFiles("reuse")).toEqual(before);
  expect(steps("reuse")).toEqual([1, 2, 3]);

  const over = rlvr("train", file, "--backend", "wasm", "--overwrite", "--set", "train.steps=2");
  expect(over.status).toBe(0);
  expect(steps("reuse")).toEqual([1, 2]);
  expect(fs.readdirSync(path.join(tmp, "reuse", "checkpoints"))).toEqual(["step-000001", "step-000002"]);
});

test("--resume without a checkpoint is an error, not a silent fresh start", () => {
  const r = rlvr("train", recipe("nothing-yet"), "--backend", "wasm", "--resume");
  expect(r.status).toBe(1);
  expect(oneLine(r.stderr)).toEqual([`rlvr: --resume: ${path.join(tmp, "nothing-yet")} does not exist; start the run without --resume`]);
});

test("optimizer.lr=1e30: the run exits non-zero naming the last good checkpoint, which is kept", () => {
  const file = recipe("huge-lr");
  expect(rlvr("train", file, "--backend", "wasm").status).toBe(0);
  const good = path.join(tmp, "huge-lr", "checkpoints", "step-000002");
  const r = rlvr("train", file, "--backend", "wasm", "--resume", "--set", "train.steps=6", "--set", "optimizer.lr=1e30");
  expect(r.status).toBe(1);
  expect(r.stdout).not.toContain("done:");
  const lines = oneLine(r.stderr);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^rlvr: step 3: the weights exploded/);
  expect(lines[0]).toContain(`the last good checkpoint is ${good}`);
  expect(fs.readdirSync(path.join(tmp, "huge-lr", "checkpoints"))).toEqual(["step-000002"]);
  loadCheckpoint(good).model.dispose();
});

test("a typo in eval.verifier fails before step 1, naming it", () => {
  const file = recipe("typo", undefined, "eval: { verifier: mathh }\n");
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("verifiers:", "  eval:\n    synthetic: { task: arith, split: test, count: 2, level: 1 }\nverifiers:"));
  const r = rlvr("train", file, "--backend", "wasm");
  expect(r.status).toBe(1);
  const lines = oneLine(r.stderr);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain("mathh");
  expect(fs.existsSync(path.join(tmp, "typo"))).toBe(false);
});

test("Ctrl-C says where the run stands and how to resume; the printed command resumes it", async () => {
  const file = recipe("interrupted", "steps: 40, prompts_per_step: 2, save_every: 2, keep_last: 2");
  const child = spawn(process.execPath, [RLVR, "train", file, "--backend", "wasm"], { cwd: ROOT });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const metricsFile = path.join(tmp, "interrupted", "metrics.jsonl");
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  // interrupt once a checkpoint exists and a later step is logged; poll the run directory, no fixed sleep
  for (;;) {
    const logged = fs.existsSync(metricsFile) ? fs.readFileSync(metricsFile, "utf8").trim().split("\n").length : 0;
    if (logged >= 3) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGINT");
  expect(await exited).toBe(130);
  const done = steps("interrupted").length;
  const kept = fs.readdirSync(path.join(tmp, "interrupted", "checkpoints")).filter((d) => /^step-\d+$/.test(d)).sort().at(-1)!;
  expect(stderr).toContain(`rlvr train: interrupted after step ${done} of 40 (${path.join(tmp, "interrupted")})`);
  expect(stderr).toContain(`last checkpoint kept: ${path.join(tmp, "interrupted", "checkpoints", kept)}`);
  const resume = /resume with: rlvr (.*)$/m.exec(stderr)![1];
  expect(resume).toBe(`train ${file} --backend wasm --resume`);
  const r = rlvr(...resume.split(" "), "--set", "train.steps=6");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain(`resuming interrupted from ${path.join(tmp, "interrupted", "checkpoints", kept)}`);
});

test("train and pretrain --help list the recipe's sections and point to recipes/CONFIG.md", () => {
  for (const [command, section] of [["train", "verifiers"], ["pretrain", "model"]]) {
    const r = rlvr(command, "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("recipes/CONFIG.md");
    expect(r.stdout).toMatch(new RegExp(`^ {2}${section} +\\S`, "m"));
    expect(r.stdout).toContain("--overwrite");
  }
});

test("on a terminal rlvr train shows a bar with an ETA; piped it prints one line per step", () => {
  const file = recipe("tty", "steps: 3, prompts_per_step: 2, save_every: 0");
  // script(1) gives the command a pseudo-terminal, as a user's shell would
  const tty = spawnSync("script", ["-qec", `${process.execPath} ${RLVR} train ${file} --backend wasm`, "/dev/null"], { cwd: ROOT, encoding: "utf8" });
  expect(tty.status).toBe(0);
  expect(tty.stdout).toMatch(/train .*3\/3.*ETA/);
  expect(tty.stdout).not.toMatch(/^step 1\/3 /m);
  const piped = rlvr("train", file, "--backend", "wasm", "--overwrite");
  expect(piped.status).toBe(0);
  expect(piped.stdout).toMatch(/^step 1\/3 .*\nstep 2\/3 .*\nstep 3\/3 /m);
  expect(piped.stdout + piped.stderr).not.toContain("ETA");
});

test("pretrain --workers 2 without micro-batches is refused in one line naming the field and the size that works", () => {
  const runDir = path.join(ROOT, "runs", "pretrain-arith");
  const existed = fs.existsSync(runDir);
  const r = rlvr("pretrain", "recipes/pretrain-arith.yaml", "--workers", "2");
  expect(r.status).toBe(1);
  expect(oneLine(r.stderr)).toEqual(["rlvr pretrain: recipes/pretrain-arith.yaml:19: train.micro_batch_size: train.workers 2 splits the batch's micro-batches across ranks, and 1 micro-batch leaves a rank idle: set train.micro_batch_size to at most 16 (batch_size / workers)"]);
  expect(fs.existsSync(runDir)).toBe(existed);
});
