/** `rlvr pretrain <recipe>`: supervised training of a base model from a YAML recipe. */
import path from "node:path";
import type { CommandModule } from "yargs";
import { z } from "zod";
import { DataSource, loadSource } from "../../datasets/source.ts";
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import { readCheckpointStateOrExit } from "../../trainer/model/checkpoint.ts";
import { ModelConfig } from "../../trainer/model/config.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { OptimizerConfig } from "../../trainer/optimizer.ts";
import { loadRecipeOrExit } from "../../trainer/recipe.ts";
import { runSft, SftEvalConfig, SftTrainConfig } from "../../trainer/sft.ts";
import { progressBar } from "./progress.ts";

export const PretrainRecipe = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/).describe("Run name: outputs go to <output_dir>/<name>/."),
  seed: z.int().default(0).describe("Fixes initialization and data order."),
  model: ModelConfig.prefault({}).describe("The model to train (defaults: the reference tiny config)."),
  init_from: z.string().min(1).optional().describe("Checkpoint directory to continue pretraining from: its weights and model config replace `model`; the optimizer and schedule start fresh."),
  data: z.strictObject({
    train: DataSource.describe("Training rows."),
    eval: DataSource.optional().describe("Held-out rows for periodic accuracy (pass@1 / pass@k through the math verifier)."),
  }),
  train: SftTrainConfig.prefault({}),
  optimizer: OptimizerConfig.prefault({}),
  eval: SftEvalConfig.prefault({}),
  output_dir: z.string().default("runs").describe("Parent directory of the run directory."),
});

export const pretrainCommand: CommandModule<{ backend: string }, { backend: string; recipe: string; set: string[]; resume: boolean }> = {
  command: "pretrain <recipe>",
  describe: "Supervised pretraining of a base model from a recipe",
  builder: (y) =>
    y
      .positional("recipe", { type: "string", demandOption: true, describe: "recipes/pretrain-<task>.yaml" })
      .option("set", { type: "array", string: true, default: [], describe: "Override a field: --set train.steps=20" })
      .option("resume", { type: "boolean", default: false, describe: "Continue from the run's newest checkpoint" }) as never,
  handler: async (argv) => {
    const recipe = loadRecipeOrExit("pretrain", argv.recipe, PretrainRecipe, argv.set);
    if (recipe.init_from) readCheckpointStateOrExit("pretrain", "init_from", recipe.init_from);
    const backend = await initBackend(argv.backend as BackendName);
    console.log(`rlvr pretrain ${recipe.name}: backend ${backend}`);
    const tokenizer = makeTokenizer(recipe.model.tokenizer);
    const train = await loadSource(recipe.data.train, console.warn);
    const evalRows = recipe.data.eval ? await loadSource(recipe.data.eval, console.warn) : [];
    console.log(`${train.length} training rows, ${evalRows.length} held-out rows; ${recipe.train.steps} steps of ${recipe.train.batch_size}`);
    const bar = process.stdout.isTTY ? progressBar("pretrain") : undefined;
    const result = await runSft({ train, eval: evalRows }, tokenizer, {
      name: recipe.name,
      seed: recipe.seed,
      model: recipe.model,
      train: recipe.train,
      optimizer: recipe.optimizer,
      eval: recipe.eval,
      outputDir: recipe.output_dir,
      resume: argv.resume,
      initFrom: recipe.init_from,
      log: bar ? bar.log : (line) => console.log(line),
      progress: bar,
    }).finally(() => bar?.stop());
    console.log(`done: ${path.join(result.runDir, "checkpoints")} (step ${result.step})`);
  },
};
