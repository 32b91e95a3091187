/**
 * A run directory, runs/<name>/: metrics.jsonl (one JSON line per step), checkpoints/step-NNNNNN/
 * (the newest `keep` kept), completions/ and whatever else a trainer writes there. It holds one
 * run: a fresh start refuses a directory that already holds one unless told to overwrite it (as
 * Hugging Face's Trainer does without overwrite_output_dir), and resuming needs a checkpoint.
 * Resuming drops metric lines logged after the checkpoint it resumes from, so each step appears once.
 */
import fs from "node:fs";
import path from "node:path";
import { saveCheckpoint } from "./model/checkpoint.ts";
import type { Transformer } from "./model/transformer.ts";
import type { AdamW } from "./optimizer.ts";
import { processAlive } from "../datasets/process-alive.ts";
import { UserError } from "../datasets/user-error.ts";

/** fresh: the directory must be empty or absent; resume: continue from its newest checkpoint; overwrite: delete it first. */
export type RunMode = "fresh" | "resume" | "overwrite";

export class RunDirError extends UserError {
  override name = "RunDirError";
}

/** What marks a directory as a run's: overwrite deletes only directories holding one of these. */
const RUN_ARTEFACTS = ["metrics.jsonl", "checkpoints", "completions"];

export class RunDir {
  readonly path: string;
  readonly metricsFile: string;
  readonly checkpointsDir: string;

  private constructor(outputDir: string, name: string) {
    // "." or ".." would make the run directory the output directory or its parent: overwrite would delete it
    if (!name || name === "." || name === ".." || name.includes("/") || name.includes(path.sep)) {
      throw new RunDirError(`run name ${JSON.stringify(name)}: a run name is one directory name (not ".", ".." or a path)`);
    }
    this.path = path.join(outputDir, name);
    this.metricsFile = path.join(this.path, "metrics.jsonl");
    this.checkpointsDir = path.join(this.path, "checkpoints");
  }

  /**
   * Opens runs/<name>/ for a run; with `resume` returns the checkpoint to continue from. Nothing of
   * an earlier run is deleted or mixed in unless the mode is `overwrite`.
   */
  static open(outputDir: string, name: string, mode: RunMode): { dir: RunDir; resumeFrom: string | null } {
    const dir = new RunDir(outputDir, name);
    const entries = fs.existsSync(dir.path) ? fs.readdirSync(dir.path) : [];
    if (mode === "resume") {
      if (!fs.existsSync(dir.path)) throw new RunDirError(`--resume: ${dir.path} does not exist; start the run without --resume`);
      dir.removeTornSaves();
      const resumeFrom = dir.latestCheckpoint();
      if (!resumeFrom) throw new RunDirError(`--resume: ${dir.path} has no checkpoint to resume from; start over with --overwrite (deletes ${dir.path})`);
      return { dir, resumeFrom };
    }
    if (mode === "overwrite" && entries.length) {
      if (!entries.some((e) => RUN_ARTEFACTS.includes(e))) {
        throw new RunDirError(`--overwrite: ${dir.path} does not look like a run directory (no ${RUN_ARTEFACTS.join(", ")}); not deleting it`);
      }
      fs.rmSync(dir.path, { recursive: true, force: true });
    } else if (entries.length) {
      throw new RunDirError(`${dir.path} already holds a run (${dir.describe()}): continue it with --resume, or delete it and start over with --overwrite`);
    }
    fs.mkdirSync(dir.checkpointsDir, { recursive: true });
    return { dir, resumeFrom: null };
  }

  /** Newest checkpoint directory, or null. */
  latestCheckpoint(): string | null {
    const steps = this.checkpointSteps();
    return steps.length ? path.join(this.checkpointsDir, steps[steps.length - 1]) : null;
  }

  /**
   * A resumed run: keeps the metric lines up to `step` (a killed run may have logged steps it never
   * saved). A torn last line (a kill mid-write) is dropped; a damaged line elsewhere is an error.
   */
  resumeAt(step: number): void {
    if (!fs.existsSync(this.metricsFile)) return;
    const lines = fs.readFileSync(this.metricsFile, "utf8").split("\n");
    const kept: string[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let record: { step?: unknown };
      try {
        record = JSON.parse(line);
      } catch {
        const last = lines.slice(i + 1).every((l) => !l.trim());
        if (last) return;
        throw new RunDirError(`${this.metricsFile}:${i + 1}: not a JSON line; fix or remove it to resume`);
      }
      if (typeof record.step === "number" && record.step <= step) kept.push(line);
    });
    fs.writeFileSync(this.metricsFile, kept.map((l) => l + "\n").join(""));
  }

  appendMetrics(record: Record<string, number>): void {
    fs.appendFileSync(this.metricsFile, JSON.stringify(record) + "\n");
  }

  /** Saves step-NNNNNN (weights, optimizer, data cursor) and deletes all but the newest `keep`. */
  saveCheckpoint(step: number, model: Transformer, optimizer: AdamW, dataCursor: unknown, keep: number): string {
    const saved = saveCheckpoint(path.join(this.checkpointsDir, `step-${String(step).padStart(6, "0")}`), model, { step, optimizer, data_cursor: dataCursor });
    const steps = this.checkpointSteps();
    for (const old of steps.slice(0, Math.max(0, steps.length - keep))) fs.rmSync(path.join(this.checkpointsDir, old), { recursive: true, force: true });
    return saved;
  }

  /** A one-line account of what the directory holds, for the refusal message. */
  private describe(): string {
    const parts: string[] = [];
    if (fs.existsSync(this.metricsFile)) {
      const steps = fs.readFileSync(this.metricsFile, "utf8").split("\n").filter((l) => l.trim()).length;
      parts.push(`metrics.jsonl with ${steps} line${steps === 1 ? "" : "s"}`);
    }
    const saves = this.checkpointSteps();
    if (saves.length) parts.push(`checkpoints ${saves.join(", ")}`);
    return parts.length ? parts.join("; ") : `${fs.readdirSync(this.path).length} entries`;
  }

  /** step-*.tmp-PID directories of a save that a kill interrupted (their process is gone). */
  private removeTornSaves(): void {
    if (!fs.existsSync(this.checkpointsDir)) return;
    for (const d of fs.readdirSync(this.checkpointsDir)) {
      const m = /^step-\d+\.tmp-(\d+)$/.exec(d);
      // this process saves nothing yet: a tmp dir with its pid is an earlier process's, whose pid was reused
      if (m && (Number(m[1]) === process.pid || !processAlive(Number(m[1])))) fs.rmSync(path.join(this.checkpointsDir, d), { recursive: true, force: true });
    }
  }

  private checkpointSteps(): string[] {
    if (!fs.existsSync(this.checkpointsDir)) return [];
    return fs.readdirSync(this.checkpointsDir).filter((d) => /^step-\d+$/.test(d)).sort();
  }
}
