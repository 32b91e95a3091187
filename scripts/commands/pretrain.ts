import { sftRanks } from "../../trainer/sft.ts";
/** `rlvr pretrain <recipe>`: supervised training of a base model from a YAML recipe. */
import type { CommandModule } from "yargs";
import { z } from "zod";
import { DataSource, loadSource } from "../../datasets/source.ts";
import { initBackend, type BackendName, describeBackend } from "../../trainer/backend.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { runSft, SftRunConfig } from "../../trainer/sft.ts";
import { checkHeldOutGrader, checkpointStateOrExit, overridesOf, recipeOrExit, runCommandBuilder, runWithIo, type RunArgs } from "./run-command.ts";

const { name, seed, model, init_from, ...settings } = SftRunConfig.shape;

/** A pretraining recipe: the run's config (trainer/sft.ts SftRunConfig) with the data this command loads. */
export const PretrainRecipe = z.strictObject({
  name,
  seed,
  model,
  init_from,
  data: z.strictObject({
    train: DataSource.describe("Training rows."),
    eval: DataSource.optional().describe("Held-out rows for periodic accuracy (pass@1 / pass@k through the math verifier)."),
  }).describe("Training rows and held-out rows."),
  ...settings,
});

export const pretrainCommand: CommandModule<{ backend: string }, RunArgs> = {
  command: "pretrain <recipe>",
  describe: "Supervised pretraining of a base model from a recipe",
  builder: (y) => runCommandBuilder(y, "recipes/pretrain-<task>.yaml", PretrainRecipe) as never,
  handler: async (argv) => {
    const recipe = recipeOrExit("pretrain", argv.recipe, PretrainRecipe, overridesOf(argv));
    if (recipe.init_from) checkpointStateOrExit("pretrain", "init_from", recipe.init_from);
    // the held-out grader is loaded before step 1: a typo in eval.verifier must not wait for the first evaluation
    await checkHeldOutGrader(recipe);
    const backend = await initBackend(argv.backend as BackendName);
    const count = sftRanks(recipe.train);
    const ranks = count > 1 ? `, ${count} workers` : "";
    console.log(`rlvr pretrain ${recipe.name}: backend ${describeBackend(backend)}${ranks}`);
    const tokenizer = makeTokenizer(recipe.model.tokenizer);
    const train = await loadSource(recipe.data.train, console.warn);
    const evalRows = recipe.data.eval ? await loadSource(recipe.data.eval, console.warn) : [];
    console.log(`${train.length} training rows, ${evalRows.length} held-out rows; ${recipe.train.steps} steps of ${recipe.train.batch_size}`);
    const { data: _data, ...config } = recipe;
    await runWithIo("pretrain", argv, config.train.steps, (io) => runSft({ train, eval: evalRows }, tokenizer, { config, ...io }));
  },
};
