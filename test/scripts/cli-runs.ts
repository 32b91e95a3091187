/**
 * What the CLI tests share: `rlvr` run as a user runs it (a child process), a tiny base checkpoint
 * to train from, and a run killed with SIGKILL mid-run, however long a loaded host takes to get there.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { initBackend } from "../../trainer/backend.ts";
import { saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { tinyConfig } from "../helpers.ts";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const RLVR = path.join(ROOT, "scripts/rlvr.mjs");

export const rlvr = (...args: string[]) => spawnSync(process.execPath, [RLVR, ...args], { cwd: ROOT, encoding: "utf8" });

/**
 * A GRPO recipe `<dir>/<name>.yaml` on 16 arith problems from the tiny base at `<dir>/base`, with
 * its output under `dir`: the math reward plus `verifiers` (more YAML list lines), the given
 * `train` section's fields, and `extra` YAML at the end. Returns the file's path.
 */
export function tinyRecipe(dir: string, name: string, train: string, o: { verifiers?: string; extra?: string } = {}): string {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, `name: ${name}
base: ${path.join(dir, "base")}
data:
  train:
    synthetic: { task: arith, count: 16, level: 1 }
verifiers:
  - { name: math, weight: 1 }
${o.verifiers ?? ""}grpo: { num_generations: 4, max_completion_length: 8 }
train: { ${train} }
output_dir: ${dir}
${o.extra ?? ""}`);
  return file;
}

/** A fresh tiny model (context 64) saved as a base checkpoint at `dir`. */
export async function saveTinyBase(dir: string): Promise<void> {
  await initBackend("wasm");
  const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 64 }), 1);
  saveCheckpoint(dir, model, { step: 0 });
  model.dispose();
}

/**
 * Runs `rlvr <args>` and SIGKILLs it once `checkpoint` exists and `minLogged` metric lines are
 * written (no wall-clock deadline). Returns whether the run ended on its own first, and the lines
 * logged when it was killed.
 */
export async function killMidRun(args: string[], runDir: string, checkpoint: string, minLogged: number): Promise<{ exitedFirst: boolean; logged: number }> {
  const child = spawn(process.execPath, [RLVR, ...args], { cwd: ROOT, stdio: "ignore" });
  const metricsFile = path.join(runDir, "metrics.jsonl");
  const lines = () => (fs.existsSync(metricsFile) ? fs.readFileSync(metricsFile, "utf8").trim().split("\n").length : 0);
  let exited = false;
  const exit = new Promise((r) => child.once("exit", () => { exited = true; r(null); }));
  while (!(fs.existsSync(path.join(runDir, "checkpoints", checkpoint)) && lines() >= minLogged) && !exited) await new Promise((r) => setTimeout(r, 20));
  const exitedFirst = exited;
  child.kill("SIGKILL");
  await exit;
  return { exitedFirst, logged: lines() };
}
