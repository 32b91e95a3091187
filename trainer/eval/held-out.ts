/**
 * The held-out evaluation the trainers run every eval_every steps (eval/accuracy, eval/pass@k):
 * k samples per held-out problem, graded by the recipe's `eval.verifier`.
 */
import { z } from "zod";
import type { Row } from "../../datasets/row.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import type { Transformer } from "../model/transformer.ts";
import { formatPrompt } from "../prompt.ts";
import { SamplerConfig, sampleGroups, type Completion } from "../sampler.ts";
import { loadGrader } from "./grader.ts";
import { passAtK } from "./metrics.ts";

export const HeldOutEvalConfig = z.strictObject({
  temperature: z.number().min(0).default(1.0).describe("Sampling temperature of the held-out evaluation."),
  k: z.int().min(1).default(1).describe("Samples per problem: pass@1 is their mean accuracy, pass@k the unbiased estimate."),
  max_new_tokens: z.int().min(1).default(128).describe("Budget per evaluation completion."),
  verifier: z.string().min(1).default("math").describe("Grades held-out samples: a built-in verifier name (math, countdown, code, …) or a module path; a sample is correct when its reward is 1. `math` compares the boxed answer with the row's `answer`."),
});
export type HeldOutEvalConfig = z.infer<typeof HeldOutEvalConfig>;

/** What draws the samples: sampleGroups on `model` by default, or the same over a run's data-parallel workers. */
export type GroupSampler = (prompts: string[], sampler: SamplerConfig, seed: number) => Promise<Completion[]>;

/** Held-out accuracy: k samples per problem graded by `cfg.verifier` (math by default). */
export async function evaluateAccuracy(model: Transformer, tokenizer: Tokenizer, rows: Row[], cfg: HeldOutEvalConfig, seed: number, sample?: GroupSampler): Promise<{ pass1: number; passK: number; k: number; n: number }> {
  const sampler = SamplerConfig.parse({ num_generations: cfg.k, max_new_tokens: cfg.max_new_tokens, temperature: cfg.temperature });
  const prompts = rows.map(formatPrompt);
  const completions = sample ? await sample(prompts, sampler, seed) : await sampleGroups(model, tokenizer, prompts, sampler, seed);
  const grader = await loadGrader(cfg.verifier);
  let pass1 = 0;
  let passK = 0;
  try {
    for (const [i, row] of rows.entries()) {
      const group = completions.filter((c) => c.group === i);
      const verdicts = await Promise.all(group.map((c) => grader.grade(c.text, row).then((v) => v.correct)));
      const correct = verdicts.filter(Boolean).length;
      pass1 += correct / group.length;
      passK += passAtK(group.length, correct, cfg.k);
    }
  } finally {
    await grader.close();
  }
  return { pass1: pass1 / rows.length, passK: passK / rows.length, k: cfg.k, n: rows.length };
}
