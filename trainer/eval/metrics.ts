/**
 * Evaluation metrics over k graded samples per problem, as lighteval and lm-evaluation-harness
 * report them: pass@1 (mean over the k samples), unbiased pass@k (Chen et al. 2021), maj@k
 * (majority vote over equivalent answers), mean completion tokens and truncation rate, overall and
 * by subject and by level, with a 95% confidence interval for pass@1.
 */

/** One graded sample, as stored in the per-sample results file. */
export interface SampleResult {
  id: string;
  /** Position of the problem in the dataset (orders the summary; keys the sampling seed). */
  index: number;
  sample: number;
  subject: string | null;
  level: number | string | null;
  completion: string;
  extracted: string | null;
  correct: boolean;
  reason: string;
  tokens: number;
  truncated: boolean;
  /** The sample could not be drawn (the endpoint refused the request or kept failing): why. Graded incorrect. */
  error?: string;
  /** The completion budget, where the model's context left less than the requested max_tokens. */
  max_tokens?: number;
}

export interface Stats {
  /** Problems. */
  n: number;
  /** Samples per problem (the smallest over the problems). */
  k: number;
  "pass@1": number;
  /** Wilson score interval at 95% over the n problems (see wilson()). */
  "pass@1_ci95": [number, number];
  /** Unbiased pass@j for j = 1, 2, 4, … up to k (and k itself). */
  "pass@k": Record<string, number>;
  /** Majority-vote accuracy; null when no sample had an answer to vote with (e.g. graded by running code). */
  "maj@k": number | null;
  /** Over the samples drawn, i.e. without those that failed. */
  mean_tokens: number;
  truncation_rate: number;
  /** Samples that failed to be drawn; they count as incorrect in pass@1, pass@k and maj@k. */
  errors: number;
}

export interface Summary {
  overall: Stats;
  by_subject: Record<string, Stats>;
  by_level: Record<string, Stats>;
}

/** Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 − C(n−c, k)/C(n, k). */
export function passAtK(n: number, c: number, k: number): number {
  if (k > n) throw new RangeError(`pass@${k} needs at least ${k} samples, got ${n}`);
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}

/**
 * 95% Wilson score interval for a proportion p over n trials. Used for pass@1 with n = problems:
 * a problem's mean over k samples varies no more than one Bernoulli draw, so the interval is
 * conservative for k > 1, and unlike p ± 1.96·se it is not empty at p = 0 or p = 1.
 */
export function wilson(p: number, n: number, z = 1.959964): [number, number] {
  if (n === 0) return [0, 1];
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Majority vote: answers are clustered by `equivalent` (the math verifier's equivalence), the
 * largest cluster wins, ties go to the cluster seen first. Samples without an answer do not vote.
 * Returns the index of the winning cluster's first sample, or -1 when no sample has an answer.
 */
export function majorityVote(answers: (string | null)[], equivalent: (a: string, b: string) => boolean): number {
  const clusters: { first: number; answer: string; size: number }[] = [];
  answers.forEach((answer, i) => {
    if (answer === null) return;
    const home = clusters.find((c) => equivalent(answer, c.answer));
    if (home) home.size++;
    else clusters.push({ first: i, answer, size: 1 });
  });
  let best = -1, bestSize = 0;
  for (const c of clusters) if (c.size > bestSize) [best, bestSize] = [c.first, c.size];
  return best;
}

/** The j values pass@j is reported for: powers of two below k, and k. */
export function passKs(k: number): number[] {
  const ks: number[] = [];
  for (let j = 1; j < k; j *= 2) ks.push(j);
  ks.push(k);
  return ks;
}

/** Per-problem figures, computed once and aggregated over any subset of problems. */
interface ProblemScore {
  subject: string | null;
  level: string | null;
  samples: number;
  correct: number;
  majCorrect: boolean;
  /** Some sample had an extracted answer, so there was a vote. */
  voted: boolean;
  tokens: number;
  truncated: number;
  errors: number;
}

function scoreProblem(samples: SampleResult[], equivalent: (a: string, b: string) => boolean): ProblemScore {
  const winner = majorityVote(samples.map((s) => s.extracted), equivalent);
  return {
    subject: samples[0].subject,
    level: samples[0].level === null ? null : String(samples[0].level),
    samples: samples.length,
    correct: samples.filter((s) => s.correct).length,
    majCorrect: winner >= 0 && samples[winner].correct,
    voted: winner >= 0,
    tokens: samples.reduce((t, s) => t + s.tokens, 0),
    truncated: samples.filter((s) => s.truncated).length,
    errors: samples.filter((s) => s.error !== undefined).length,
  };
}

function aggregate(problems: ProblemScore[]): Stats {
  const n = problems.length;
  const k = n ? Math.min(...problems.map((p) => p.samples)) : 0;
  const mean = (f: (p: ProblemScore) => number) => (n ? problems.reduce((t, p) => t + f(p), 0) / n : 0);
  const errors = problems.reduce((t, p) => t + p.errors, 0);
  const drawn = problems.reduce((t, p) => t + p.samples, 0) - errors;
  const pass1 = mean((p) => p.correct / p.samples);
  const passK: Record<string, number> = {};
  for (const j of k ? passKs(k) : []) passK[String(j)] = mean((p) => passAtK(p.samples, p.correct, j));
  return {
    n,
    k,
    "pass@1": pass1,
    "pass@1_ci95": wilson(pass1, n),
    "pass@k": passK,
    "maj@k": problems.some((p) => p.voted) ? mean((p) => (p.majCorrect ? 1 : 0)) : null,
    mean_tokens: drawn ? problems.reduce((t, p) => t + p.tokens, 0) / drawn : 0,
    truncation_rate: drawn ? problems.reduce((t, p) => t + p.truncated, 0) / drawn : 0,
    errors,
  };
}

function groupBy(problems: ProblemScore[], key: (p: ProblemScore) => string | null): Record<string, Stats> {
  const groups = new Map<string, ProblemScore[]>();
  for (const p of problems) {
    const g = key(p);
    if (g === null) continue;
    groups.set(g, [...(groups.get(g) ?? []), p]);
  }
  const sorted = [...groups.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return Object.fromEntries(sorted.map((g) => [g, aggregate(groups.get(g)!)]));
}

/** Overall, by-subject and by-level statistics of graded samples (any order; grouped by problem index). */
export function summarize(results: SampleResult[], equivalent: (a: string, b: string) => boolean): Summary {
  const byProblem = new Map<number, SampleResult[]>();
  for (const r of results) byProblem.set(r.index, [...(byProblem.get(r.index) ?? []), r]);
  const problems = [...byProblem.keys()].sort((a, b) => a - b).map((i) => scoreProblem(byProblem.get(i)!.sort((a, b) => a.sample - b.sample), equivalent));
  return {
    overall: aggregate(problems),
    by_subject: groupBy(problems, (p) => p.subject),
    by_level: groupBy(problems, (p) => p.level),
  };
}
