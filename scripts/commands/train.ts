/** `rlvr train <recipe>`: GRPO from a base checkpoint, driven by a YAML recipe; with an `rc` section, reasoning-cache RL. */
import path from "node:path";
import type { CommandModule } from "yargs";
import { z } from "zod";
import { DataSource, loadSource } from "../../datasets/source.ts";
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import { GrpoConfig } from "../../trainer/grpo.ts";
import { makeTokenizer } from "../../trainer/model/tokenizer.ts";
import { OptimizerConfig } from "../../trainer/optimizer.ts";
import { RcTrainConfig, runRcGrpo } from "../../trainer/rc-trainer.ts";
import type { RunStatus } from "../../trainer/run-loop.ts";
import { loadGrader } from "../../trainer/eval/grader.ts";
import { SamplerConfig } from "../../trainer/sampler.ts";
import { HeldOutEvalConfig } from "../../trainer/eval/held-out.ts";
import { GrpoTrainConfig, runGrpo } from "../../trainer/grpo-trainer.ts";
import { loadVerifiers, VerifierSpec } from "../../verifiers/registry.ts";
import { terminalProgressBar } from "./progress.ts";
import { checkpointStateOrExit, recipeOrExit, reportOnInterrupt, runCommandBuilder, type RunArgs } from "./run-command.ts";

export const GrpoRecipe = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/).describe("Run name: outputs go to <output_dir>/<name>/."),
  seed: z.int().default(0).describe("Fixes data order and sampling."),
  base: z.string().min(1).describe("Checkpoint directory of the base model (relative to the working directory)."),
  data: z.strictObject({
    train: DataSource.describe("Prompts (with their answers/tests) to train on."),
    eval: DataSource.optional().describe("Held-out rows for eval/accuracy (graded by the math verifier) every train.eval_every steps."),
  }).describe("Training prompts and held-out rows."),
  verifiers: z.array(VerifierSpec).min(1).describe("Reward functions with weights: r = Σ weight · reward."),
  sampler: SamplerConfig.omit({ num_generations: true, max_new_tokens: true }).prefault({})
    .describe("Temperature, top-k/top-p, stop strings; G and the budget come from grpo.num_generations and grpo.max_completion_length."),
  grpo: GrpoConfig.prefault({}).describe("The GRPO loss: group size, budget, loss type, clipping, KL."),
  optimizer: OptimizerConfig.prefault({}).describe("AdamW and its learning-rate schedule."),
  train: GrpoTrainConfig.prefault({}).describe("Steps, batch, dynamic sampling, logs, checkpoints, guards."),
  eval: HeldOutEvalConfig.prefault({}).describe("How the held-out rows are sampled and graded."),
  output_dir: z.string().default("runs").describe("Parent directory of the run directory."),
  rc: RcTrainConfig.optional()
    .describe("Reasoning-cache RL (trainer/REASONING-CACHE.md): each step rolls out rc.turns RC turns per prompt, then trains on K = grpo.num_generations reasoning completions per (problem, summary state), one GRPO group each (grpo.max_completion_length is replaced by rc.reason_tokens; train.dynamic_sampling is not supported). Absent: plain GRPO."),
}).superRefine((r, ctx) => {
  if (r.rc && r.train.dynamic_sampling) ctx.addIssue({ code: "custom", path: ["train", "dynamic_sampling"], message: "dynamic_sampling is not supported with rc" });
});
export type GrpoRecipe = z.infer<typeof GrpoRecipe>;

export const trainCommand: CommandModule<{ backend: string }, RunArgs> = {
  command: "train <recipe>",
  describe: "GRPO training from a YAML recipe",
  builder: (y) => runCommandBuilder(y, "recipes/grpo-<task>.yaml", GrpoRecipe) as never,
  handler: async (argv) => {
    const recipe = recipeOrExit("train", argv.recipe, GrpoRecipe, argv.set);
    const baseState = checkpointStateOrExit("train", `${argv.recipe}: base`, recipe.base);
    // every verifier the run will call, the held-out grader included, is loaded before step 1
    const verifiers = await loadVerifiers(recipe.verifiers, { baseDir: path.dirname(argv.recipe) });
    try {
      if (recipe.data.eval) await (await loadGrader(recipe.eval.verifier)).close();
      const backend = await initBackend(argv.backend as BackendName);
      console.log(`rlvr train ${recipe.name}: backend ${backend}, base ${recipe.base} (step ${baseState.step})`);
      const rows = await loadSource(recipe.data.train, console.warn);
      const evalRows = recipe.data.eval ? await loadSource(recipe.data.eval, console.warn) : [];
      const bar = terminalProgressBar("train");
      const status: RunStatus = { runDir: "", step: 0, steps: recipe.train.steps, checkpoint: null };
      const stopReporting = reportOnInterrupt("train", status, () => bar?.stop());
      const train = recipe.rc ? (o: Parameters<typeof runGrpo>[1]) => runRcGrpo(rows, { ...o, rc: recipe.rc! }) : (o: Parameters<typeof runGrpo>[1]) => runGrpo(rows, o);
      const result = await train({
        name: recipe.name,
        seed: recipe.seed,
        base: recipe.base,
        tokenizer: makeTokenizer(baseState.model.tokenizer),
        verifiers,
        sampler: SamplerConfig.parse({ ...recipe.sampler, num_generations: recipe.grpo.num_generations, max_new_tokens: recipe.grpo.max_completion_length }),
        grpo: recipe.grpo,
        optimizer: recipe.optimizer,
        train: recipe.train,
        outputDir: recipe.output_dir,
        resume: argv.resume,
        overwrite: argv.overwrite,
        log: bar ? bar.log : (line) => console.log(line),
        progress: bar,
        status,
        evalRows,
        evalConfig: recipe.eval,
      }).finally(() => {
        bar?.stop();
        stopReporting();
      });
      console.log(`done: ${path.join(result.runDir, "checkpoints")} (step ${result.step})`);
    } finally {
      await Promise.all(verifiers.map((v) => v.close()));
    }
  },
};
