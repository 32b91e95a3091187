/**
 * Prompt templates for evaluation. `{problem}` is replaced by the row's problem. Our own models are
 * asked in the format they were trained on (`rlvr`); endpoints get the instruction that Math-500
 * reports commonly use (`boxed`, as in DeepSeek-R1 and Qwen2.5-Math evaluations).
 */
import type { Row } from "../../datasets/row.ts";

export const TEMPLATES = {
  /** What rlvr's models see in pretraining and GRPO (trainer/prompt.ts formatPrompt). */
  rlvr: "{problem}\n",
  boxed: "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}.",
  /** lighteval's MATH-500 instruction. */
  lighteval:
    "Solve the following math problem efficiently and clearly. The last line of your response should be of the following format: " +
    "'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct' (without quotes) where ANSWER is just the final number " +
    "or expression that solves the problem. Think step by step before answering.\n\n{problem}",
} as const;

/** A template by name, or a literal template string that contains `{problem}`. */
export function resolveTemplate(nameOrText: string): string {
  if (nameOrText in TEMPLATES) return TEMPLATES[nameOrText as keyof typeof TEMPLATES];
  if (!nameOrText.includes("{problem}")) {
    throw new Error(`--template ${JSON.stringify(nameOrText)}: not a template name (${Object.keys(TEMPLATES).join(", ")}) and has no {problem} placeholder`);
  }
  return nameOrText;
}

export function renderPrompt(template: string, row: Row): string {
  return template.split("{problem}").join(String(row.problem ?? row.prompt ?? ""));
}
