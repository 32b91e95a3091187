/**
 * Reasoning cache (RC) decoding at test time (Wu, Qu, Setlur, Kumar, arXiv 2602.03773). Instead of
 * one long completion, the policy reasons in T short turns that talk to each other only through a
 * bounded summary:
 *
 *   s_0 = ""
 *   for t = 1..T:
 *     r_t = policy(I_R(problem, s_{t−1}))          at most H_R new tokens
 *     s_t = summarizer(I_S(problem, s_{t−1}, r_t))  at most H_S new tokens; not after the last turn
 *
 * The new summary replaces the old one and the reasoning is dropped, so no call ever sees more than
 * one summary and one reasoning turn: its context stays bounded whatever T is (see checkContext).
 * The answer is read from the last reasoning turn; evaluation grades every turn's r_t as well, to
 * report accuracy per turn. The summarizer is the policy itself unless another one is given.
 *
 * Batching and seeds: all (problem, sample) states advance together, one `generate` call per turn
 * for the reasoning and one for the summaries. A state's request key is `problem key · n + sample`
 * and each (turn, phase) gets its own seed derived from the run's seed, so a state's transcript
 * depends on neither its batch-mates nor how problems are chunked: same seed → same transcripts.
 */
import { z } from "zod";
import type { Generation, Policy } from "./policy.ts";
import { deriveSeed } from "../datasets/rng.ts";
import { UserError } from "../datasets/user-error.ts";
import { DEFAULT_REASON_TEMPLATE, DEFAULT_SUMMARY_TEMPLATE, renderTemplate, templateProblem } from "../datasets/rc-templates.ts";

/** The loop's budgets and templates, declared once for RC decoding and for RC-RL's rollouts. */
const RcLoopFields = {
  reason_tokens: z.int().min(1).default(64).describe("H_R: most new tokens of one reasoning turn (in RC-RL also the trained completions' budget, replacing grpo.max_completion_length)."),
  summary_tokens: z.int().min(1).default(32).describe("H_S: most tokens of a summary (generated with this budget, then truncated to it when re-encoded)."),
  reason_template: z
    .string()
    .default(DEFAULT_REASON_TEMPLATE)
    .describe("I_R: the reasoning prompt; {problem} and {summary} (the previous summary, empty in turn 1), each once."),
  summary_template: z
    .string()
    .default(DEFAULT_SUMMARY_TEMPLATE)
    .describe("I_S: the summary prompt; {reasoning} (this turn's reasoning) once, {problem} and {summary} (the previous summary) at most once."),
};

function checkTemplates(c: { reason_template: string; summary_template: string }, ctx: z.RefinementCtx): void {
  const r = templateProblem("reason", c.reason_template);
  if (r) ctx.addIssue({ code: "custom", path: ["reason_template"], message: `reasoning template: ${r}` });
  const s = templateProblem("summary", c.summary_template);
  if (s) ctx.addIssue({ code: "custom", path: ["summary_template"], message: `summary template: ${s}` });
}

export const ReasoningCacheConfig = z
  .strictObject({
    turns: z.int().min(1).default(4).describe("T: reasoning turns; a summary is written between turns, none after the last."),
    ...RcLoopFields,
  })
  .superRefine(checkTemplates);
export type ReasoningCacheConfig = z.infer<typeof ReasoningCacheConfig>;

export const RcReplayConfig = z.strictObject({
  size: z.int().min(0).default(0)
    .describe("Summaries of earlier steps kept for replay, each with its problem and turn; the oldest go first. 0 = no replay buffer."),
  share: z.number().min(0).max(1).default(0.5)
    .describe("Chance that each non-empty state is drawn from the buffer instead of this step's rollout (the empty summary is never replaced)."),
});

/** RC-RL (trainer/rc-trainer.ts): the loop's fields for its rollouts, and how states are drawn from them. */
export const RcTrainConfig = z
  .strictObject({
    turns: z.int().min(1).default(3)
      .describe("T_train: RC turns rolled out per problem with the current policy, without gradient; its summaries s_1..s_{T−1} are the candidate states."),
    states_per_rollout: z.int().min(1).default(2)
      .describe("N_summ: states trained on per rollout: the empty summary s_0 always, plus N_summ − 1 others drawn without replacement from s_1..s_{T−1} (or the replay buffer); at most turns. Each state gets K = grpo.num_generations completions."),
    ...RcLoopFields,
    eval_turns: z.int().min(0).default(0)
      .describe("Turns of the RC decoding in the held-out evaluation (eval/rc_accuracy, every train.eval_every steps); 0 = turns. More than turns measures extrapolation."),
    replay: RcReplayConfig.prefault({}).describe("Replay buffer of earlier summaries."),
  })
  .superRefine((c, ctx) => {
    checkTemplates(c, ctx);
    if (c.states_per_rollout > c.turns) {
      ctx.addIssue({ code: "custom", path: ["states_per_rollout"], message: `N_summ = ${c.states_per_rollout} states need at least ${c.states_per_rollout} turns (s_0..s_{T−1}); turns is ${c.turns}` });
    }
  });
export type RcTrainConfig = z.infer<typeof RcTrainConfig>;

/** The loop's config for `turns` turns with an RC-RL run's budgets and templates. */
export function loopConfig(rc: RcTrainConfig, turns = rc.turns): ReasoningCacheConfig {
  const { reason_tokens, summary_tokens, reason_template, summary_template } = rc;
  return { turns, reason_tokens, summary_tokens, reason_template, summary_template };
}

/** One problem to run: its text and a stable key (the dataset row index) that keys its seeds. */
export interface RcProblem {
  problem: string;
  key: number;
}

/** Sampling shared by every call of the loop; `n` independent RC runs (samples) per problem. */
export interface RcSampling {
  n: number;
  temperature: number;
  top_p: number;
  seed: number;
}

export interface RcTurn {
  /** 1-based. */
  turn: number;
  /** s_{t−1}: the summary this turn reasoned from ("" in turn 1). */
  summary: string;
  /** Its tokens (the policy's count when it can count, else what the summarizer generated). */
  summary_tokens: number;
  /** r_t as generated. */
  reasoning: string;
  /** Tokens the policy generated for r_t. */
  reasoning_tokens: number;
  /** r_t ran out of its H_R budget. */
  truncated: boolean;
  /**
   * The largest context of this turn's calls (prompt + generated tokens, the policy's special tokens
   * not counted), or null when a policy involved cannot count tokens.
   */
  context_tokens: number | null;
}

export interface RcTranscript {
  key: number;
  sample: number;
  turns: RcTurn[];
  /** Tokens generated over the whole loop: every reasoning turn and every summary. */
  generated_tokens: number;
}

export class RcContextError extends UserError {
  override name = "RcContextError";
}

export interface RcOptions {
  policy: Policy;
  /** Writes the summaries; the policy itself when left out. */
  summarizer?: Policy;
  problems: RcProblem[];
  config: ReasoningCacheConfig;
  sampling: RcSampling;
}

type Counter = (text: string) => number;
const counterOf = (p: Policy): Counter | undefined => (p.countTokens ? (t) => p.countTokens!(t) : undefined);

/**
 * The longest prefix of `text` that every counter puts at `limit` tokens or fewer (cut between
 * code points; a byte model re-encodes an invalid byte it sampled as 3 bytes, so generated text
 * can count more tokens than were generated).
 */
export function truncateToTokens(text: string, limit: number, counters: Counter[]): string {
  for (const count of counters) {
    if (count(text) <= limit) continue;
    const points = Array.from(text);
    let lo = 0, hi = points.length; // invariant: prefix lo fits, prefix hi does not
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (count(points.slice(0, mid).join("")) <= limit) lo = mid;
      else hi = mid;
    }
    text = points.slice(0, lo).join("");
  }
  return text;
}

/**
 * Throws RcContextError when some call could exceed a policy's context (policies that cannot count
 * are not checked: an endpoint enforces its own limits). The bound, in the policy's tokens:
 *   reasoning call: |I_R(problem, "")| + H_S (the summary; 0 when T = 1) + H_R (generated)
 *   summary call:   |I_S(problem, "", "")| + H_S (old summary) + H_R (reasoning) + H_S (generated)
 * Summaries are truncated to H_S tokens and reasoning to H_R before they enter a prompt, so this
 * holds whatever T is (exactly for an additive tokenizer such as the byte one; each call is checked
 * again on its actual prompt in case a tokenizer is not additive).
 */
export function checkContext(problems: RcProblem[], config: ReasoningCacheConfig, policy: Policy, summarizer: Policy = policy): void {
  const H_R = config.reason_tokens, H_S = config.summary_tokens;
  const multi = config.turns > 1;
  const fix = (fixed: number, need: number, limit: number, templateFlag: string) =>
    fixed >= limit
      ? `the template and the problem alone take ${fixed} tokens: shorten ${templateFlag} (or the problems)`
      : `lower --reason-tokens (H_R = ${H_R}) or --summary-tokens (H_S = ${H_S}) by ${need - limit} tokens in all, or shorten ${templateFlag}`;
  for (const p of problems) {
    if (policy.countTokens && policy.maxContext !== undefined) {
      const fixed = policy.countTokens(renderTemplate(config.reason_template, { problem: p.problem }));
      const need = fixed + (multi ? H_S : 0) + H_R;
      if (need > policy.maxContext) {
        throw new RcContextError(
          `reasoning cache: a reasoning call for problem ${p.key} may hold ${need} tokens (template + problem ${fixed}${multi ? ` + summary H_S ${H_S}` : ""} + reasoning H_R ${H_R}) ` +
            `but ${policy.name} holds ${policy.maxContext}; ${fix(fixed, need, policy.maxContext, "--reason-template")}`,
        );
      }
    }
    if (multi && summarizer.countTokens && summarizer.maxContext !== undefined) {
      const fixed = summarizer.countTokens(renderTemplate(config.summary_template, { problem: p.problem }));
      const need = fixed + 2 * H_S + H_R;
      if (need > summarizer.maxContext) {
        throw new RcContextError(
          `reasoning cache: a summary call for problem ${p.key} may hold ${need} tokens (template + problem ${fixed} + old summary H_S ${H_S} + reasoning H_R ${H_R} + new summary H_S ${H_S}) ` +
            `but ${summarizer.name} holds ${summarizer.maxContext}; ${fix(fixed, need, summarizer.maxContext, "--summary-template")}`,
        );
      }
    }
  }
}

/** Seed of one phase of one turn (phase 0 = reasoning, 1 = summary). */
export const phaseSeed = (seed: number, turn: number, phase: 0 | 1) => deriveSeed(seed, turn, phase);

interface State {
  problem: string;
  key: number;
  sample: number;
  summary: string;
  summaryTokens: number;
  turns: RcTurn[];
  generated: number;
}

/** Runs the loop for every problem × `sampling.n` samples; result[i][j] is problem i's sample j. */
export async function runReasoningCache(o: RcOptions): Promise<RcTranscript[][]> {
  const { config: c, sampling } = o;
  const policy = o.policy, summarizer = o.summarizer ?? o.policy;
  checkContext(o.problems, c, policy, summarizer);
  const countR = counterOf(policy), countS = counterOf(summarizer);
  const states: State[] = o.problems.flatMap((p) =>
    Array.from({ length: sampling.n }, (_, sample) => ({ problem: p.problem, key: p.key, sample, summary: "", summaryTokens: 0, turns: [], generated: 0 })),
  );
  const call = async (who: Policy, prompts: string[], maxTokens: number, turn: number, phase: 0 | 1): Promise<Generation[]> => {
    if (who.countTokens && who.maxContext !== undefined) {
      prompts.forEach((prompt, j) => {
        const tokens = who.countTokens!(prompt);
        if (tokens + maxTokens > who.maxContext!) {
          throw new RcContextError(`reasoning cache: the turn ${turn} ${phase ? "summary" : "reasoning"} prompt of problem ${states[j].key} has ${tokens} tokens + ${maxTokens} to generate, more than ${who.name}'s context of ${who.maxContext}; lower --reason-tokens or --summary-tokens`);
        }
      });
    }
    const requests = prompts.map((prompt, j) => ({ prompt, key: states[j].key * sampling.n + states[j].sample }));
    const out = await who.generate(requests, { n: 1, temperature: sampling.temperature, top_p: sampling.top_p, max_tokens: maxTokens, stop: [], seed: phaseSeed(sampling.seed, turn, phase) });
    return out.map((g) => g[0]);
  };

  for (let t = 1; t <= c.turns; t++) {
    const reasonPrompts = states.map((s) => renderTemplate(c.reason_template, { problem: s.problem, summary: s.summary }));
    const reasoning = await call(policy, reasonPrompts, c.reason_tokens, t, 0);
    states.forEach((s, j) => {
      const g = reasoning[j];
      s.generated += g.tokens;
      s.turns.push({
        turn: t,
        summary: s.summary,
        summary_tokens: s.summaryTokens,
        reasoning: g.text,
        reasoning_tokens: g.tokens,
        truncated: g.finishReason === "length",
        context_tokens: countR ? countR(reasonPrompts[j]) + g.tokens : null,
      });
    });
    if (t === c.turns) break; // no summary after the last turn
    const summaryPrompts = states.map((s, j) =>
      renderTemplate(c.summary_template, { problem: s.problem, summary: s.summary, reasoning: countS ? truncateToTokens(reasoning[j].text, c.reason_tokens, [countS]) : reasoning[j].text }),
    );
    const summaries = await call(summarizer, summaryPrompts, c.summary_tokens, t, 1);
    states.forEach((s, j) => {
      const g = summaries[j];
      s.generated += g.tokens;
      // the new summary REPLACES the old one; the reasoning is not carried on
      s.summary = truncateToTokens(g.text.trim(), c.summary_tokens, [countR, countS].filter((f): f is Counter => f !== undefined));
      s.summaryTokens = countR ? countR(s.summary) : Math.min(g.tokens, c.summary_tokens);
      const turn = s.turns[s.turns.length - 1];
      turn.context_tokens = turn.context_tokens === null || !countS ? null : Math.max(turn.context_tokens, countS(summaryPrompts[j]) + g.tokens);
    });
  }
  const out: RcTranscript[][] = o.problems.map(() => []);
  states.forEach((s, j) => {
    out[Math.floor(j / sampling.n)][s.sample] = { key: s.key, sample: s.sample, turns: s.turns, generated_tokens: s.generated };
  });
  return out;
}

/**
 * Accuracy (pass@1) after each turn: per problem the share of samples whose turn-t answer is
 * correct, averaged over problems. Problems are grouped by `index`.
 */
export function accuracyByTurn(results: { index: number; turns?: { correct: boolean }[] }[]): number[] {
  const byProblem = new Map<number, { correct: boolean }[][]>();
  for (const r of results) if (r.turns) byProblem.set(r.index, [...(byProblem.get(r.index) ?? []), r.turns]);
  const T = Math.max(0, ...[...byProblem.values()].flat().map((turns) => turns.length));
  return Array.from({ length: T }, (_, t) => {
    const per = [...byProblem.values()].map((samples) => samples.filter((turns) => turns[t]?.correct).length / samples.length);
    return per.length ? per.reduce((a, b) => a + b, 0) / per.length : 0;
  });
}
