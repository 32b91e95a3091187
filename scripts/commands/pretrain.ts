/** `rlvr pretrain <recipe>`: supervised training of a base model from a YAML recipe. */
import path from "node:path";
import type { CommandModule } from "yargs";
import { z } from "zod";
import { DataSource, loadSource } from "../../datasets/source.ts";
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import { ModelConfig } from "../../trainer/model/config.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { OptimizerConfig } from "../../trainer/optimizer.ts";
import { loadGrader } from "../../trainer/eval/grader.ts";
import type { RunStatus } from "../../trainer/run-loop.ts";
import { HeldOutEvalConfig } from "../../trainer/eval/held-out.ts";
import { runSft, SftTrainConfig } from "../../trainer/sft.ts";
import { terminalProgressBar } from "./progress.ts";
import { checkpointStateOrExit, recipeOrExit, reportOnInterrupt, runCommandBuilder, type RunArgs } from "./run-command.ts";

export const PretrainRecipe = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/).describe("Run name: outputs go to <output_dir>/<name>/."),
  seed: z.int().default(0).describe("Fixes initialization and data order."),
  model: ModelConfig.prefault({}).describe("The model to train (defaults: the reference tiny config)."),
  init_from: z.string().min(1).optional().describe("Checkpoint directory to continue pretraining from: its weights and model config replace `model`; the optimizer and schedule start fresh."),
  data: z.strictObject({
    train: DataSource.describe("Training rows."),
    eval: DataSource.optional().describe("Held-out rows for periodic accuracy (pass@1 / pass@k through the math verifier)."),
  }).describe("Training rows and held-out rows."),
  train: SftTrainConfig.prefault({}).describe("Steps, batch, label smoothing, logs, checkpoints, guards."),
  optimizer: OptimizerConfig.prefault({}).describe("AdamW and its learning-rate schedule."),
  eval: HeldOutEvalConfig.prefault({}).describe("How the held-out rows are sampled and graded."),
  output_dir: z.string().default("runs").describe("Parent directory of the run directory."),
});

export const pretrainCommand: CommandModule<{ backend: string }, RunArgs> = {
  command: "pretrain <recipe>",
  describe: "Supervised pretraining of a base model from a recipe",
  builder: (y) => runCommandBuilder(y, "recipes/pretrain-<task>.yaml", PretrainRecipe) as never,
  handler: async (argv) => {
    const recipe = recipeOrExit("pretrain", argv.recipe, PretrainRecipe, argv.set);
    if (recipe.init_from) checkpointStateOrExit("pretrain", "init_from", recipe.init_from);
    // the held-out grader is loaded before step 1: a typo in eval.verifier must not wait for the first evaluation
    if (recipe.data.eval) await (await loadGrader(recipe.eval.verifier)).close();
    const backend = await initBackend(argv.backend as BackendName);
    console.log(`rlvr pretrain ${recipe.name}: backend ${backend}`);
    const tokenizer = makeTokenizer(recipe.model.tokenizer);
    const train = await loadSource(recipe.data.train, console.warn);
    const evalRows = recipe.data.eval ? await loadSource(recipe.data.eval, console.warn) : [];
    console.log(`${train.length} training rows, ${evalRows.length} held-out rows; ${recipe.train.steps} steps of ${recipe.train.batch_size}`);
    const bar = terminalProgressBar("pretrain");
    const status: RunStatus = { runDir: "", step: 0, steps: recipe.train.steps, checkpoint: null };
    const stopReporting = reportOnInterrupt("pretrain", status, () => bar?.stop());
    const result = await runSft({ train, eval: evalRows }, tokenizer, {
      name: recipe.name,
      seed: recipe.seed,
      model: recipe.model,
      train: recipe.train,
      optimizer: recipe.optimizer,
      eval: recipe.eval,
      outputDir: recipe.output_dir,
      resume: argv.resume,
      overwrite: argv.overwrite,
      initFrom: recipe.init_from,
      log: bar ? bar.log : (line) => console.log(line),
      progress: bar,
      status,
    }).finally(() => {
      bar?.stop();
      stopReporting();
    });
    console.log(`done: ${path.join(result.runDir, "checkpoints")} (step ${result.step})`);
  },
};
