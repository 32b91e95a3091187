/**
 * The row contract shared by datasets, the sampler, verifiers and evaluation.
 * Math-500 rows keep their own field names (problem, solution, answer, subject, level, unique_id);
 * code rows carry `language` and `tests`. Unknown fields pass through untouched.
 */
export interface CodeTests {
  /** stdin strings, one per case (APPS/TACO convention). */
  inputs?: string[];
  /** expected stdout strings, one per case, compared after trimming trailing whitespace per line. */
  outputs?: string[];
  /** code appended after the program (HumanEval/MBPP convention); passes if it exits 0. */
  assert?: string;
}

export interface Row {
  id?: string;
  problem?: string;
  prompt?: string;
  solution?: string;
  answer?: string;
  subject?: string;
  level?: number;
  unique_id?: string;
  language?: "python" | "javascript" | string;
  tests?: CodeTests;
  /** SFT only: the exact prompt text, used verbatim instead of `problem\n` (trainer/prompt.ts formatPrompt). */
  sft_prompt?: string;
  [field: string]: unknown;
}
