/**
 * What `rlvr pretrain` and `rlvr train` share as commands: their flags (--set, --resume,
 * --overwrite), a --help that lists the recipe's sections, one-line errors for a bad recipe or
 * checkpoint, and the report printed when Ctrl-C stops a run.
 */
import path from "node:path";
import type { Argv } from "yargs";
import type { z } from "zod";
import { loadGrader } from "../../trainer/eval/grader.ts";
import { CheckpointError, readCheckpointState, type CheckpointState } from "../../trainer/model/checkpoint.ts";
import { loadRecipe, RecipeError } from "../../trainer/recipe.ts";
import type { RunIo, RunStatus } from "../../trainer/run-loop.ts";
import { terminalProgressBar } from "./progress.ts";

export interface RunArgs {
  backend: string;
  recipe: string;
  set: string[];
  resume: boolean;
  overwrite: boolean;
  workers?: number;
}

/** --set overrides with --workers N as the override train.workers=N it stands for. */
export const overridesOf = (a: RunArgs): string[] => [...a.set, ...(a.workers === undefined ? [] : [`train.workers=${a.workers}`])];

/** The recipe positional and the run flags, with the recipe's sections in the epilogue of --help. */
export function runCommandBuilder(y: Argv, example: string, recipe: z.ZodObject): Argv<RunArgs> {
  return y
    .positional("recipe", { type: "string", demandOption: true, describe: example })
    .option("set", { type: "array", string: true, default: [], describe: "Override a recipe field: --set optimizer.lr=3e-4 (repeatable)" })
    .option("resume", { type: "boolean", default: false, describe: "Continue the run from its newest checkpoint (runs/<name>/checkpoints)" })
    .option("overwrite", { type: "boolean", default: false, describe: "Delete an earlier run under the same name first; without it a non-empty run directory is refused" })
    .option("workers", { type: "number", describe: "Data-parallel ranks, each with its own backend and model replica (train.workers; the same metrics for any number; default 0 = one per core, at most 8, on wasm or cpu)" })
    .epilogue(recipeSections(recipe)) as unknown as Argv<RunArgs>;
}

/** The recipe's top-level sections with their one-line descriptions, and where the full reference is. */
export function recipeSections(recipe: z.ZodObject): string {
  const lines = Object.entries(recipe.shape).map(([key, field]) => {
    const first = ((field as z.ZodType).description ?? "").split(/(?<=\.)\s/)[0];
    // one line each: the full text is in CONFIG.md
    return `  ${key.padEnd(11)} ${first.length > 64 ? `${first.slice(0, 63)}…` : first}`;
  });
  return `Recipe sections (every field, type and default: recipes/CONFIG.md):\n${lines.join("\n")}`;
}

/** The recipe, or its error on stderr as `rlvr <command>: file:line: field: problem` and exit 1. */
export function recipeOrExit<S extends z.ZodType>(command: string, file: string, schema: S, overrides: string[]): z.infer<S> {
  try {
    return loadRecipe(file, schema, overrides);
  } catch (e) {
    if (!(e instanceof RecipeError)) throw e;
    console.error(`rlvr ${command}: ${e.message}`);
    process.exit(1);
  }
}

/** A checkpoint's state, or its error on stderr as `rlvr <command>: <label>: …` and exit 1. */
export function checkpointStateOrExit(command: string, label: string, dir: string): CheckpointState {
  try {
    return readCheckpointState(dir);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    console.error(`rlvr ${command}: ${label}: ${e.message}`);
    process.exit(1);
  }
}

/** Loads and closes the held-out grader, so that a typo in eval.verifier fails before step 1, not at the first evaluation. */
export async function checkHeldOutGrader(recipe: { data: { eval?: unknown }; eval: { verifier: string } }): Promise<void> {
  if (recipe.data.eval) await (await loadGrader(recipe.eval.verifier)).close();
}

/**
 * Runs a trainer with the command's I/O: a progress bar on a terminal (one line per step when
 * piped), the Ctrl-C report, and the closing `done:` line naming the checkpoints.
 */
export async function runWithIo(command: string, argv: RunArgs, steps: number, train: (io: RunIo) => Promise<{ runDir: string; step: number }>): Promise<void> {
  const bar = terminalProgressBar(command);
  const status: RunStatus = { runDir: "", step: 0, steps, checkpoint: null };
  const stopReporting = reportOnInterrupt(command, status, () => bar?.stop());
  const io: RunIo = { resume: argv.resume, overwrite: argv.overwrite, log: bar ? bar.log : (line) => console.log(line), progress: bar, status };
  const result = await train(io).finally(() => {
    bar?.stop();
    stopReporting();
  });
  console.log(`done: ${path.join(result.runDir, "checkpoints")} (step ${result.step})`);
}

/**
 * On Ctrl-C, says what is safe (the last step done, the last checkpoint kept) and how to resume,
 * then exits 130 as shells expect. Returns the function that removes the handler.
 */
export function reportOnInterrupt(command: string, status: RunStatus, stopDisplay: () => void): () => void {
  const onSignal = () => {
    stopDisplay();
    console.error(interruptReport(command, status, process.argv.slice(2)));
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  return () => process.off("SIGINT", onSignal);
}

/** The lines printed when a run is interrupted; `args` is the command line after `rlvr`. */
export function interruptReport(command: string, status: RunStatus, args: string[]): string {
  if (!status.runDir) return `rlvr ${command}: interrupted before the run started; nothing was written`;
  const resumeArgs = args.filter((a) => a !== "--overwrite" && a !== "--resume");
  const lines = [`rlvr ${command}: interrupted after step ${status.step} of ${status.steps} (${status.runDir})`];
  if (status.checkpoint) {
    const saved = Number(/step-(\d+)$/.exec(status.checkpoint)?.[1]);
    lines.push(`  last checkpoint kept: ${status.checkpoint} (step ${saved}${saved < status.step ? `; steps ${saved + 1}-${status.step} are redone on resume` : ""})`);
    lines.push(`  resume with: rlvr ${[...resumeArgs, "--resume"].map(shellQuote).join(" ")}`);
  } else {
    lines.push("  no checkpoint of this run was saved yet");
    lines.push(`  start over with: rlvr ${[...resumeArgs, "--overwrite"].map(shellQuote).join(" ")}`);
  }
  return lines.join("\n");
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
