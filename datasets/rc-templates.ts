/**
 * The reasoning cache's prompt templates (trainer/reasoning-cache.ts): I_R, the reasoning prompt,
 * and I_S, the summary prompt, with their placeholders and rules. A leaf module: the chain
 * generator writes its RC-format training rows with the same templates the RC loop fills.
 */
/** Named template pairs: `rlvr` for rlvr's byte-level models (the default), `instruct` for chat endpoints. */
export const RC_TEMPLATES = {
  rlvr: {
    /**
     * Turn 1 is exactly what rlvr's models are trained on (`problem\n` → solution); later turns put
     * the summary where the solution starts, so the model carries on from it.
     */
    reason: "{problem}\n{summary}",
    summary: "{problem}\nSummary so far: {summary}\nReasoning: {reasoning}\nNew summary:",
  },
  /**
   * For models trained to carry a state as its last step (labeled chains, trainer/REASONING-CACHE.md
   * "Result on chain"): the summary is the last step written so far, and the summary call leaves the
   * problem out, so it fits a small context next to a long problem.
   */
  "last-step": {
    reason: "{problem}\n{summary}",
    summary: "Summary so far: {summary}\nReasoning: {reasoning}\nNew summary:",
  },
  instruct: {
    reason:
      "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{}. " +
      "Below is a summary of your progress on this problem so far (empty at the start); continue from it rather than starting over.\n\n{summary}",
    summary:
      "Problem:\n{problem}\n\nSummary of the progress so far:\n{summary}\n\nLatest reasoning:\n{reasoning}\n\n" +
      "Write a new, concise summary of all progress so far that will replace the previous one: key results, the current state, what remains to be done, and the final answer in \\boxed{} if one was found.",
  },
} as const;

export const DEFAULT_REASON_TEMPLATE = RC_TEMPLATES.rlvr.reason;
export const DEFAULT_SUMMARY_TEMPLATE = RC_TEMPLATES.rlvr.summary;

type Slot = "problem" | "summary" | "reasoning";
const SLOT = /\{(problem|summary|reasoning)\}/g;

/** How often each placeholder occurs in a template. */
function slotCounts(template: string): Record<Slot, number> {
  const counts: Record<Slot, number> = { problem: 0, summary: 0, reasoning: 0 };
  for (const m of template.matchAll(SLOT)) counts[m[1] as Slot]++;
  return counts;
}

/**
 * Why a template breaks the rules, or null. Each placeholder may appear at most once (twice would
 * double its share of the context and break the bound); the reasoning template needs {problem} and
 * {summary} and must not take {reasoning}; the summary template needs {reasoning}.
 */
export function templateProblem(kind: "reason" | "summary", template: string): string | null {
  const c = slotCounts(template);
  const twice = (Object.keys(c) as Slot[]).filter((k) => c[k] > 1);
  if (twice.length) return `{${twice[0]}} appears ${c[twice[0]]} times; each placeholder may appear at most once`;
  if (kind === "reason") {
    if (!c.problem || !c.summary) return "needs both {problem} and {summary}";
    if (c.reasoning) return "must not contain {reasoning} (the reasoning of earlier turns is dropped)";
  } else if (!c.reasoning) return "needs {reasoning}";
  return null;
}

/** A template with its placeholders filled in one pass (a problem that contains `{summary}` stays as it is). */
export function renderTemplate(template: string, values: Partial<Record<Slot, string>>): string {
  return template.replace(SLOT, (_, slot: Slot) => values[slot] ?? "");
}
