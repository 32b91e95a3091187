/**
 * Math-500 style evaluation: k samples per problem from a policy, each graded by the math verifier
 * against the row's gold answer (or by another verifier, grader.ts), written per sample to a JSONL results file (resumable), then
 * summarized overall / by subject / by level into `<out>.summary.json` and a printed table.
 */
import type { Row } from "../../datasets/row.ts";
import { isEquivalent } from "../../verifiers/math/index.ts";
import { loadGrader, type Grader, type Verdict } from "./grader.ts";
import { accuracyByTurn, checkContext, runReasoningCache, type ReasoningCacheConfig, type RcTranscript } from "../reasoning-cache.ts";
import { summarize, type SampleResult, type Stats, type Summary } from "./metrics.ts";
import { EndpointError } from "./endpoint.ts";
import type { Generation, Policy } from "../policy.ts";
import { renderPrompt } from "./prompts.ts";
import { appendProblem, openResults, summaryPathOf, writeAtomically, type EvalSettings } from "./results.ts";

/** Reasoning-cache decoding settings (`--decoding rc`): the loop's config and who summarizes. */
export interface RcSettings extends ReasoningCacheConfig {
  /** The summarizer's name (checkpoint or endpoint model); null when the policy summarizes itself. */
  summarizer: string | null;
}

/** What evaluate() runs: the plain settings, plus `rc` for reasoning-cache decoding (checked on --resume too). */
export type EvalRunSettings = EvalSettings & { rc?: RcSettings };

/** One turn of an RC sample in the results file: the answer read from that turn's reasoning. */
export interface RcTurnResult {
  summary_tokens: number;
  reasoning_tokens: number;
  context_tokens: number | null;
  extracted: string | null;
  correct: boolean;
  reason: string;
  truncated: boolean;
  /** s_{t−1}, the summary the turn reasoned from, and r_t. */
  summary: string;
  reasoning: string;
}

export interface EvalOptions {
  rows: Row[];
  policy: Policy;
  settings: EvalRunSettings;
  /** RC mode: writes the summaries (default: the policy). */
  summarizer?: Policy;
  /** Judges each sample (default: the math verifier); the caller closes it. */
  grader?: Grader;
  out: string;
  resume: boolean;
  /** After each batch of problems: problems done so far, total, and the running pass@1. */
  onProgress?: (done: number, total: number, pass1: number) => void;
}

export interface EvalSummary extends Summary, EvalSettings {
  n_problems: number;
  results: string;
  /** Samples whose completion budget was cut below max_tokens to fit the model's context. */
  capped: number;
  /** RC mode: its settings and the accuracy (pass@1) of the answer read after each turn. */
  rc?: RcSettings & { accuracy_by_turn: number[] };
}

/** A row's stable id: Math-500's unique_id, else id, else its position. */
export function rowId(row: Row, index: number): string {
  return String(row.unique_id ?? row.id ?? `row-${index}`);
}

/** Equivalence of two extracted answers, for majority voting. */
export const equivalentAnswers = (a: string, b: string) => isEquivalent(a, b).equal;

export async function evaluate(o: EvalOptions): Promise<EvalSummary> {
  const ids = o.rows.map(rowId);
  const grader = o.grader ?? (await loadGrader("math"));
  const results = openResults(o.out, o.settings, o.resume, ids);
  const done = new Set(results.map((r) => r.index));
  const pending = o.rows.map((row, index) => ({ row, index })).filter((p) => !done.has(p.index));
  const perCall = o.policy.promptsPerCall(o.settings.k);
  const params = { n: o.settings.k, temperature: o.settings.temperature, top_p: o.settings.top_p, max_tokens: o.settings.max_tokens, stop: [], seed: o.settings.seed };
  if (o.settings.rc) checkContext(pending.map((p) => rcProblem(p.row, p.index)), rcConfig(o.settings.rc), o.policy, o.summarizer); // before any call
  for (let start = 0; start < pending.length; start += perCall) {
    const chunk = pending.slice(start, start + perCall);
    const rc = o.settings.rc ? await runRc(o, chunk) : null;
    const generations = rc ? null : await o.policy.generate(chunk.map((p) => ({ prompt: renderPrompt(o.settings.template, p.row), key: p.index })), params);
    if (generations) stopIfUnavailable(generations.flat(), o.out);
    // the chunk's samples are graded concurrently (a sandboxed verifier runs them in parallel), then written in order
    const graded = await Promise.all(chunk.map((p, i) => Promise.all(
      rc
        ? rc[i].map((run) => gradeRc(grader, p.row, p.index, ids[p.index], run))
        : generations![i].map((g, sample) => grade(grader, p.row, p.index, ids[p.index], sample, g)),
    )));
    for (const problem of graded) {
      appendProblem(o.out, problem);
      results.push(...problem);
    }
    o.onProgress?.(done.size + start + chunk.length, o.rows.length, results.filter((r) => r.correct).length / Math.max(1, results.length));
  }
  const { rc, ...plain } = o.settings;
  const capped = results.filter((r) => r.max_tokens !== undefined).length;
  const summary: EvalSummary = { ...plain, n_problems: o.rows.length, results: o.out, capped, ...summarize(results, equivalentAnswers) };
  if (rc) summary.rc = { ...rc, accuracy_by_turn: accuracyByTurn(results as (SampleResult & { turns?: RcTurnResult[] })[]) };
  writeAtomically(summaryPathOf(o.out), JSON.stringify(summary, null, 2) + "\n");
  return summary;
}

/**
 * A chunk in which no request got through (each failed after every retry) ends the run: the endpoint
 * is down, and recording every remaining sample as an error would only take hours of retries. The
 * problems before are already written, so `--resume` carries on. A chunk with some answers goes on.
 */
function stopIfUnavailable(generations: Generation[], out: string): void {
  if (generations.length && generations.every((g) => g.unavailable)) {
    throw new EndpointError(`${generations[0].error}; no request of the last ${generations.length} got an answer, so the evaluation stopped (the problems done are kept in ${out}: rerun with --resume)`, null, true);
  }
}

async function grade(grader: Grader, row: Row, index: number, id: string, sample: number, g: Generation): Promise<SampleResult> {
  const budget = g.maxTokens === undefined ? {} : { max_tokens: g.maxTokens };
  if (g.error !== undefined) {
    return { ...sampleResult(row, index, id, sample, "", 0, false, { correct: false, reason: "error", extracted: null }), error: g.error, ...budget };
  }
  return { ...sampleResult(row, index, id, sample, g.text, g.tokens, g.finishReason === "length", await grader.grade(g.text, row)), ...budget };
}

function sampleResult(row: Row, index: number, id: string, sample: number, completion: string, tokens: number, truncated: boolean, verdict: Verdict): SampleResult {
  return {
    id,
    index,
    sample,
    subject: typeof row.subject === "string" ? row.subject : null,
    level: typeof row.level === "number" || typeof row.level === "string" ? row.level : null,
    completion,
    extracted: verdict.extracted,
    correct: verdict.correct,
    reason: verdict.reason,
    tokens,
    truncated,
  };
}

const rcProblem = (row: Row, index: number) => ({ problem: renderPrompt("{problem}", row), key: index });
const rcConfig = ({ summarizer: _, ...config }: RcSettings): ReasoningCacheConfig => config;

/** RC decoding of a chunk of problems: k loops each, batched across the chunk. */
function runRc(o: EvalOptions, chunk: { row: Row; index: number }[]): Promise<RcTranscript[][]> {
  return runReasoningCache({
    policy: o.policy,
    summarizer: o.summarizer,
    problems: chunk.map((p) => rcProblem(p.row, p.index)),
    config: rcConfig(o.settings.rc!),
    sampling: { n: o.settings.k, temperature: o.settings.temperature, top_p: o.settings.top_p, seed: o.settings.seed },
  });
}

/** An RC sample: graded on its last turn's reasoning, with every turn graded in `turns`; tokens = all generated. */
async function gradeRc(grader: Grader, row: Row, index: number, id: string, run: RcTranscript): Promise<SampleResult & { turns: RcTurnResult[] }> {
  const verdicts = await Promise.all(run.turns.map((t) => grader.grade(t.reasoning, row)));
  const turns = run.turns.map((t, j): RcTurnResult => ({
    summary_tokens: t.summary_tokens,
    reasoning_tokens: t.reasoning_tokens,
    context_tokens: t.context_tokens,
    extracted: verdicts[j].extracted,
    correct: verdicts[j].correct,
    reason: verdicts[j].reason,
    truncated: t.truncated,
    summary: t.summary,
    reasoning: t.reasoning,
  }));
  // the sample's verdict is its last turn's: graded once, not again (a code verifier would rerun the program)
  const last = run.turns.length - 1;
  return { ...sampleResult(row, index, id, run.sample, run.turns[last].reasoning, run.generated_tokens, run.turns[last].truncated, verdicts[last]), turns };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

/** The summary as a plain-text table (overall, then by level, then by subject), then a line each on failed and capped samples. */
export function formatSummary(s: EvalSummary): string {
  const ks = Object.keys(s.overall["pass@k"]).filter((j) => j !== "1");
  const errors = s.overall.errors > 0;
  const head = ["", "n", "pass@1 % (95% CI)", ...ks.map((j) => `pass@${j} %`), `maj@${s.k} %`, "tokens", "trunc %", ...(errors ? ["errors"] : [])];
  const line = (name: string, st: Stats) => [
    name,
    String(st.n),
    `${pct(st["pass@1"])} (${pct(st["pass@1_ci95"][0])}-${pct(st["pass@1_ci95"][1])})`,
    ...ks.map((j) => (st["pass@k"][j] === undefined ? "-" : pct(st["pass@k"][j]))),
    st["maj@k"] === null ? "-" : pct(st["maj@k"]),
    st.mean_tokens.toFixed(1),
    pct(st.truncation_rate),
    ...(errors ? [String(st.errors)] : []),
  ];
  const rows = [head, line("overall", s.overall)];
  for (const [level, st] of Object.entries(s.by_level)) rows.push(line(`level ${level}`, st));
  for (const [subject, st] of Object.entries(s.by_subject)) rows.push(line(subject, st));
  const widths = head.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const table = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
  const samples = s.overall.n * s.k;
  if (errors) table.push("", `errors: ${s.overall.errors} of ${samples} samples failed and count as incorrect (each one's "error" in ${s.results} says why; --resume asks for them again)`);
  if (s.capped) table.push(`${errors ? "" : "\n"}max_tokens cut to fit the model's context for ${s.capped} of ${samples} samples`);
  return table.join("\n");
}
