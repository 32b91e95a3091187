import { rankCount } from "../../trainer/parallel/workers.ts";
/** `rlvr train <recipe>`: GRPO from a base checkpoint, driven by a YAML recipe; with an `rc` section, reasoning-cache RL. */
import path from "node:path";
import type { CommandModule } from "yargs";
import { z } from "zod";
import { DataSource, loadSource } from "../../datasets/source.ts";
import { initBackend, type BackendName, describeBackend } from "../../trainer/backend.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { runRcGrpo } from "../../trainer/rc-trainer.ts";
import { checkGrpoRunConfig, GrpoRunConfig, runGrpo, type GrpoOptions } from "../../trainer/grpo-trainer.ts";
import { loadVerifiers, VerifierSpec } from "../../verifiers/registry.ts";
import { checkHeldOutGrader, checkpointStateOrExit, overridesOf, recipeOrExit, runCommandBuilder, runWithIo, type RunArgs } from "./run-command.ts";

const { name, seed, base, ...settings } = GrpoRunConfig.shape;

/** A GRPO recipe: the run's config (trainer/grpo-trainer.ts GrpoRunConfig) with the data and verifiers this command resolves. */
export const GrpoRecipe = z.strictObject({
  name,
  seed,
  base,
  data: z.strictObject({
    train: DataSource.describe("Prompts (with their answers/tests) to train on."),
    eval: DataSource.optional().describe("Held-out rows for eval/accuracy (graded by the math verifier) every train.eval_every steps."),
  }).describe("Training prompts and held-out rows."),
  verifiers: z.array(VerifierSpec).min(1).describe("Reward functions with weights: r = Σ weight · reward."),
  ...settings,
}).superRefine(checkGrpoRunConfig);
export type GrpoRecipe = z.infer<typeof GrpoRecipe>;

export const trainCommand: CommandModule<{ backend: string }, RunArgs> = {
  command: "train <recipe>",
  describe: "GRPO training from a YAML recipe",
  builder: (y) => runCommandBuilder(y, "recipes/grpo-<task>.yaml", GrpoRecipe) as never,
  handler: async (argv) => {
    const recipe = recipeOrExit("train", argv.recipe, GrpoRecipe, overridesOf(argv));
    const baseState = checkpointStateOrExit("train", `${argv.recipe}: base`, recipe.base);
    // every verifier the run will call, the held-out grader included, is loaded before step 1
    const verifiers = await loadVerifiers(recipe.verifiers, { baseDir: path.dirname(argv.recipe) });
    try {
      await checkHeldOutGrader(recipe);
      const backend = await initBackend(argv.backend as BackendName);
      const count = rankCount(recipe.train.workers);
      const ranks = count > 1 ? `, ${count} workers` : "";
      console.log(`rlvr train ${recipe.name}: backend ${describeBackend(backend)}${ranks}, base ${recipe.base} (step ${baseState.step})`);
      const rows = await loadSource(recipe.data.train, console.warn);
      const evalRows = recipe.data.eval ? await loadSource(recipe.data.eval, console.warn) : [];
      const { data: _data, verifiers: _specs, ...config } = recipe;
      await runWithIo("train", argv, config.train.steps, (io) => {
        const options: GrpoOptions = { config, tokenizer: makeTokenizer(baseState.model.tokenizer), verifiers, evalRows, ...io };
        return config.rc ? runRcGrpo(rows, options) : runGrpo(rows, options);
      });
    } finally {
      await Promise.all(verifiers.map((v) => v.close()));
    }
  },
};
