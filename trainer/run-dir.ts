/**
 * A run directory, runs/<name>/: metrics.jsonl (one JSON line per step), checkpoints/step-NNNNNN/
 * (the newest `keep` kept) and whatever else a trainer writes there. Resuming drops metric lines
 * logged after the checkpoint it resumes from, so each step appears exactly once.
 */
import fs from "node:fs";
import path from "node:path";
import { saveCheckpoint } from "./model/checkpoint.ts";
import type { Transformer } from "./model/transformer.ts";
import type { AdamW } from "./optimizer.ts";

export class RunDir {
  readonly path: string;
  readonly metricsFile: string;
  readonly checkpointsDir: string;

  constructor(outputDir: string, name: string) {
    this.path = path.join(outputDir, name);
    this.metricsFile = path.join(this.path, "metrics.jsonl");
    this.checkpointsDir = path.join(this.path, "checkpoints");
    fs.mkdirSync(this.checkpointsDir, { recursive: true });
  }

  /** Newest checkpoint directory, or null. */
  latestCheckpoint(): string | null {
    const steps = this.checkpointSteps();
    return steps.length ? path.join(this.checkpointsDir, steps[steps.length - 1]) : null;
  }

  /** A fresh run: an old metrics log under this name is discarded. */
  startFresh(): void {
    fs.rmSync(this.metricsFile, { force: true });
  }

  /** A resumed run: keeps the metric lines up to `step` (a killed run may have logged steps it never saved). */
  resumeAt(step: number): void {
    if (!fs.existsSync(this.metricsFile)) return;
    const kept = fs.readFileSync(this.metricsFile, "utf8").split("\n").filter((line) => line.trim() && (JSON.parse(line) as { step: number }).step <= step);
    fs.writeFileSync(this.metricsFile, kept.map((l) => l + "\n").join(""));
  }

  appendMetrics(record: Record<string, number>): void {
    fs.appendFileSync(this.metricsFile, JSON.stringify(record) + "\n");
  }

  /** Saves step-NNNNNN (weights, optimizer, data cursor) and deletes all but the newest `keep`. */
  saveCheckpoint(step: number, model: Transformer, optimizer: AdamW, dataCursor: unknown, keep: number): void {
    saveCheckpoint(path.join(this.checkpointsDir, `step-${String(step).padStart(6, "0")}`), model, { step, optimizer, data_cursor: dataCursor });
    const steps = this.checkpointSteps();
    for (const old of steps.slice(0, Math.max(0, steps.length - keep))) fs.rmSync(path.join(this.checkpointsDir, old), { recursive: true, force: true });
  }

  private checkpointSteps(): string[] {
    if (!fs.existsSync(this.checkpointsDir)) return [];
    return fs.readdirSync(this.checkpointsDir).filter((d) => /^step-\d+$/.test(d)).sort();
  }
}
