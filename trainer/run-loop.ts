/**
 * The run lifecycle every trainer shares (pretraining, GRPO, RC-RL): start fresh or resume from the
 * run's newest checkpoint, then step → held-out evaluation → metrics line → guards → progress →
 * checkpoint (keep the newest N). The guards stop a run that has diverged before it can save
 * broken weights: a run of non-finite updates, or weights that are non-finite or exploded after an
 * update. A checkpoint is written only after a healthy step (a save due at a skipped step waits for
 * the next good one), so the last good checkpoint is never rotated out by a bad one. `RunStatus` is kept current for whoever reports an interrupted run.
 */
import { z } from "zod";
import { loadCheckpoint, restoreOptimizer, CheckpointError, STATE_FILE } from "./model/checkpoint.ts";
import type { Transformer } from "./model/transformer.ts";
import { AdamW, type OptimizerConfig } from "./optimizer.ts";
import { RunDir, RunDirError, type RunMode } from "./run-dir.ts";
import { UserError } from "../datasets/user-error.ts";
import path from "node:path";
import { WorkerError } from "./parallel/workers.ts";

/** The divergence guards' settings, declared once and spread into each trainer's train config. */
export const RunGuardConfig = {
  max_bad_steps: z.int().min(1).default(5)
    .describe("Consecutive updates skipped for a non-finite loss or gradient before the run stops (the last checkpoint stays intact)."),
  max_abs_weight: z.number().gt(0).default(1e4)
    .describe("A weight larger in magnitude than this after an update means the run diverged (the shipped bases' largest is about 1.5): the run stops without saving and names its last good checkpoint. Non-finite weights always stop it."),
};

/** What the loop reads of a trainer's train config. */
export interface LoopSettings {
  steps: number;
  log_every: number;
  save_every: number;
  keep_last: number;
  max_bad_steps: number;
  max_abs_weight: number;
}

/** Where a run stands; updated as it goes, so an interrupt handler can say what is safe. */
export interface RunStatus {
  runDir: string;
  /** Steps done (logged). */
  step: number;
  steps: number;
  /** The newest checkpoint of this run, or null before its first save. */
  checkpoint: string | null;
}

/** A run stopped by a guard; its message names the last good checkpoint. */
export class RunStoppedError extends UserError {
  override name = "RunStoppedError";
  constructor(message: string, readonly status: RunStatus) {
    super(`${message}; ${status.checkpoint ? `the last good checkpoint is ${status.checkpoint} (resume from it with --resume)` : "no checkpoint of this run was saved"}`);
  }
}

export interface RunStart<C> {
  dir: RunDir;
  model: Transformer;
  optimizer: AdamW;
  step: number;
  cursor: C;
  resumedFrom: string | null;
}

/** What the command gives a run beside its config: how to start it, where its lines and progress go. */
export interface RunIo {
  /** Continue from the run's newest checkpoint. */
  resume: boolean;
  /** Delete an earlier run under this name first (without it, a non-empty run directory is refused). */
  overwrite?: boolean;
  log: (line: string) => void;
  /** A live progress display (a bar on a TTY); when given, per-step lines are left to it, but for evaluations. */
  progress?: { update(step: number, total: number, record: Record<string, number>): void };
  /** Kept current as the run goes (see RunStatus). */
  status?: RunStatus;
}

/** The recipe fields every run has. */
export interface RunConfig {
  name: string;
  output_dir: string;
  optimizer: OptimizerConfig;
}

/**
 * A run's starting point: `init()`'s weights with a fresh optimizer, or with `resume` the newest
 * checkpoint's weights, AdamW moments, step and data cursor (validated by `cursorSchema`; metric
 * lines after that step are dropped).
 */
export function startRun<C>(c: RunConfig, io: Pick<RunIo, "resume" | "overwrite">, init: () => Transformer, fresh: C, cursorSchema: z.ZodType<C>): RunStart<C> {
  if (io.resume && io.overwrite) throw new RunDirError("--resume and --overwrite contradict each other: pick one");
  const mode: RunMode = io.resume ? "resume" : io.overwrite ? "overwrite" : "fresh";
  const { dir, resumeFrom } = RunDir.open(c.output_dir, c.name, mode);
  if (!resumeFrom) {
    const model = init();
    return { dir, model, optimizer: new AdamW(model.params, c.optimizer), step: 0, cursor: fresh, resumedFrom: null };
  }
  const { model, state } = loadCheckpoint(resumeFrom);
  const cursor = cursorSchema.safeParse(state.data_cursor);
  if (!cursor.success) {
    model.dispose();
    const issue = cursor.error.issues[0];
    throw new CheckpointError(`${path.join(resumeFrom, STATE_FILE)}: ${["data_cursor", ...issue.path].join(".")}: ${issue.message}`);
  }
  const optimizer = new AdamW(model.params, c.optimizer);
  try {
    restoreOptimizer(resumeFrom, state, optimizer);
  } catch (e) {
    optimizer.dispose();
    model.dispose();
    throw e;
  }
  dir.resumeAt(state.step);
  return { dir, model, optimizer, step: state.step, cursor: cursor.data, resumedFrom: resumeFrom };
}

/** What differs between trainers in the loop. */
export interface LoopHooks {
  /** One training step (0-based) → its metrics record (`skipped_updates` 1 when its update was skipped). */
  step(step: number): Promise<Record<string, number>>;
  /** Whether held-out figures are due after (1-based) `step`. */
  evalDue(step: number): boolean;
  /** Adds held-out figures to the record of (1-based) `step`. */
  evaluate(step: number, record: Record<string, number>): Promise<void>;
  /** The plain-text progress line of a record. */
  line(record: Record<string, number>, step: number): string;
  /** The data cursor a checkpoint stores. */
  cursor(): unknown;
}

/** Runs steps `start.step` … `settings.steps`; returns the last step. */
export async function runLoop(start: Pick<RunStart<unknown>, "dir" | "model" | "optimizer" | "step">, settings: LoopSettings, hooks: LoopHooks, o: Pick<RunIo, "log" | "progress" | "status">): Promise<number> {
  const { dir, model } = start;
  const status = Object.assign(o.status ?? ({} as RunStatus), { runDir: dir.path, step: start.step, steps: settings.steps, checkpoint: dir.latestCheckpoint() });
  let step = start.step;
  let badSteps = 0;
  let saveDue = false;
  while (step < settings.steps) {
    const record = await hooks.step(step).catch((e: unknown) => {
      // a dead worker stops the run as a guard does: nothing saved after the last good checkpoint
      throw e instanceof WorkerError ? new RunStoppedError(`step ${step + 1}: ${e.message}`, status) : e;
    });
    step++;
    if (hooks.evalDue(step)) await hooks.evaluate(step, record);
    dir.appendMetrics(record);
    status.step = step;
    badSteps = record.skipped_updates ? badSteps + 1 : 0;
    if (record.skipped_updates) o.log(`step ${step}: non-finite loss or gradient, update skipped (${badSteps} in a row)`);
    if (badSteps >= settings.max_bad_steps) throw new RunStoppedError(`${badSteps} consecutive steps had a non-finite loss or gradient; stopping at step ${step}`, status);
    const broken = weightProblem(model, settings.max_abs_weight);
    if (broken) throw new RunStoppedError(`step ${step}: ${broken}; the run diverged (lower optimizer.lr?) and stops without saving`, status);
    o.progress?.update(step, settings.steps, record);
    const logDue = (!o.progress && (step % settings.log_every === 0 || step === settings.steps)) || record["eval/accuracy"] !== undefined;
    if (logDue) o.log(hooks.line(record, step));
    saveDue ||= (settings.save_every > 0 && step % settings.save_every === 0) || step === settings.steps;
    // weights that just gave a non-finite loss are not "good": the save waits for a healthy step
    if (saveDue && !record.skipped_updates) {
      status.checkpoint = dir.saveCheckpoint(step, model, start.optimizer, hooks.cursor(), settings.keep_last);
      saveDue = false;
    }
  }
  if (saveDue) throw new RunStoppedError(`step ${step}: the last update was skipped (non-finite loss or gradient), so the final weights are not saved`, status);
  return step;
}

/** Why the weights are unfit to save (non-finite, or larger than maxAbs), or null. */
export function weightProblem(model: Transformer, maxAbs: number): string | null {
  let largest = 0;
  let where = "";
  for (const [name, data] of model.values()) {
    for (let i = 0; i < data.length; i++) {
      const a = Math.abs(data[i]);
      if (!(a <= largest)) {
        if (Number.isNaN(a) || a === Infinity) return `tensor ${name} has non-finite weights`;
        largest = a;
        where = name;
      }
    }
  }
  return largest > maxAbs ? `the weights exploded (|w| = ${largest.toExponential(2)} in ${where}, above train.max_abs_weight ${maxAbs})` : null;
}

/** Runs `body`, then frees what the run holds; on failure frees what it can and rethrows the first error. */
export async function disposingAfter<T>(run: { optimizer: AdamW; model: Transformer; reference?: Transformer }, body: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (e) {
    // a failed wasm kernel can leave the heap unusable: free what we can, but report the first error
    try {
      disposeRun(run);
    } catch {
      // the original error matters more
    }
    throw e;
  }
  disposeRun(run);
  return result;
}

/** Frees a run's model, optimizer and reference model. */
export function disposeRun(run: { optimizer: AdamW; model: Transformer; reference?: Transformer }): void {
  run.optimizer.dispose();
  run.model.dispose();
  run.reference?.dispose();
}
