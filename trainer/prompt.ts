/** How a row becomes the prompt text the policy sees, in pretraining, GRPO, evaluation and serving alike. */
import type { Row } from "../datasets/row.ts";

/**
 * Every row becomes `<bos> prompt` + `solution <eos>`; the prompt is the problem and a newline, or a
 * row's `sft_prompt` used verbatim when it has one (RC-format chain rows: a prompt that already holds
 * a summary or is a summary call; like any prompt it carries no loss).
 */
export function formatPrompt(row: Row): string {
  if (typeof row.sft_prompt === "string") return row.sft_prompt;
  return `${row.problem ?? row.prompt ?? ""}\n`;
}
