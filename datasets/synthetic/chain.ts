/**
 * `chain`: long-horizon state tracking. A start value and N operations applied in order; the
 * solution writes every intermediate value, so a model must carry the state across the whole
 * chain — with large N, past its context (the reasoning-cache loop is measured on this task).
 *
 * Problem: `Start at 7; add 3; double; sub 5; halve. Result?`
 * Solution: `7+3=10. 10*2=20. 20-5=15. ...` one equation per operation, then `\boxed{…}`.
 *
 * Start 1–20; operations: `add n`, `sub n` (n in 1–9), `double`, `triple`, `halve` (only on even values).
 * Every value stays an integer in [-99, 99] however long the chain, so the bytes per step stay
 * constant (~17) and length is set by N alone. Steps: `steps` when given, else by level:
 * 1 → 2, 2 → 4, 3 → 8, 4 → 16, 5 → 32. A row with explicit `steps` gets the level whose default
 * is the largest not above it (1 for N < 4, 5 for N ≥ 32).
 *
 * Labeled chains (`labeled`, off by default): each operation carries a one-byte label, a..z then
 * A..Z (so at most 52 operations), repeated in its equation:
 *   Problem:  `Start at 7; a:add 3; b:double; c:sub 5. Result?`
 *   Solution: `a:7+3=10. b:10*2=20. c:20-5=15. \boxed{15}`
 * The label makes an operation's position content-addressable: a model that resumes from a summary
 * such as `b:10*2=20.` finds operation `c` without counting. The canonical form is the unlabeled one
 * with the prefix `chain-labeled:`, so labeled and unlabeled chains split independently.
 *
 * RC format (`rcFormat`, labeled only): SFT rows that teach the reasoning-cache loop with the
 * `last-step` templates (trainer/REASONING-CACHE.md, "Result on chain"). A row draws a labeled chain
 * of N = 1..steps operations (uniform), a depth d = 0..N (uniform) and one of two kinds:
 * - reasoning (share 1 − summaryShare): prompt `problem\n` + the equation of operation d (empty when
 *   d = 0), target the next ≤ `window` equations, and ` \boxed{…}` when the chain ends within them
 *   (a leading space when d > 0, as the solution has);
 * - summary: prompt `Summary so far: <equation d>\nReasoning: <that reasoning>\nNew summary:`,
 *   target ` <last complete equation of the reasoning>` (the old summary when it has none); in a fifth
 *   of them the reasoning is cut at a random byte after its first equation, as H_R can cut it.
 * With `resumeShare`, a reasoning row resumes from a summary (d = 1..N, uniform) with that
 * probability and starts from the empty summary otherwise; summary rows keep the uniform depth.
 * The prompt is in the row's `sft_prompt` field (trainer/prompt.ts uses it verbatim and puts no loss on
 * it), the target in `solution`. No row holds more than `window` operations of reasoning.
 */
import { RC_TEMPLATES, renderTemplate } from "../rc-templates.ts";
import type { Rng } from "../rng.ts";
import { between, type Problem, type TaskOptions } from "./task.ts";

/** Labels of labeled chains, in order: a..z then A..Z. */
export const CHAIN_LABELS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

const LIMIT = 99;

/** Default operations per level. */
const CHAIN_STEPS: Record<number, number> = { 1: 2, 2: 4, 3: 8, 4: 16, 5: 32 };

interface Op { words: string; key: string; symbol: string; operand: number; apply: (v: number) => number }

const OPS: Op[] = [
  { words: "double", key: "*2", symbol: "*", operand: 2, apply: (v) => v * 2 },
  { words: "triple", key: "*3", symbol: "*", operand: 3, apply: (v) => v * 3 },
  { words: "halve", key: "/2", symbol: "/", operand: 2, apply: (v) => v / 2 },
];

/** One operation that keeps v an integer within ±LIMIT; add/sub are drawn twice as often. */
function drawOp(rng: Rng, v: number): Op {
  for (;;) {
    const r = rng.int(7);
    let op: Op;
    if (r < 4) {
      const n = between(rng, 1, 9), plus = r < 2;
      op = { words: `${plus ? "add" : "sub"} ${n}`, key: `${plus ? "+" : "-"}${n}`, symbol: plus ? "+" : "-", operand: n,
        apply: (x) => (plus ? x + n : x - n) };
    } else op = OPS[r - 4];
    const next = op.apply(v);
    if (Number.isInteger(next) && Math.abs(next) <= LIMIT) return op;
  }
}

/** The level a chain of `steps` operations is filed under. */
export function chainLevel(steps: number): number {
  let level = 1;
  for (const [l, n] of Object.entries(CHAIN_STEPS)) if (steps >= n) level = Number(l);
  return level;
}

/** One drawn chain: start, operation words, canonical keys, equations (no trailing space) and result. */
interface Chain { start: number; compact: boolean; words: string[]; keys: string[]; eqs: string[]; result: number }

function drawChain(rng: Rng, steps: number, labeled: boolean, compact = false): Chain {
  if (labeled && steps > CHAIN_LABELS.length) throw new Error(`labeled chains have at most ${CHAIN_LABELS.length} operations, not ${steps}`);
  const start = between(rng, 1, 20);
  const words: string[] = [], keys: string[] = [`${start}`], eqs: string[] = [];
  let v = start;
  for (let i = 0; i < steps; i++) {
    const op = drawOp(rng, v);
    const next = op.apply(v);
    const label = labeled ? `${CHAIN_LABELS[i]}:` : "";
    words.push(compact ? `${CHAIN_LABELS[i]}${op.key}` : label + op.words);
    keys.push(op.key);
    eqs.push(`${label}${v}${op.symbol}${op.operand}=${next}.`);
    v = next;
  }
  return { start, compact, words, keys, eqs, result: v };
}

/** One chain problem: `options.steps` operations if given, else the level's default. */
export function generateChain(rng: Rng, level: number, options: TaskOptions): Problem {
  const steps = options.steps ?? CHAIN_STEPS[level];
  if (!steps) throw new Error(`bug: chain level ${level} is not 1-5`);
  if (options.rcFormat) return generateChainRc(rng, steps, options.rcFormat, options.compact ?? false);
  if (options.compact && !options.labeled) throw new Error("compact chains need labeled");
  const c = drawChain(rng, steps, options.labeled ?? false, options.compact ?? false);
  return {
    canonical: `${options.labeled ? "chain-labeled" : "chain"}:${c.keys.join(",")}`,
    problem: chainProblem(c),
    solution: `${c.eqs.map((e) => `${e} `).join("")}\\boxed{${c.result}}`,
    answer: String(c.result),
    level: options.steps === undefined ? level : chainLevel(steps),
  };
}

function chainProblem(c: Chain): string {
  return c.compact ? `Start at ${c.start}; ${c.words.join(" ")}. Result?` : `Start at ${c.start}; ${c.words.join("; ")}. Result?`;
}

/**
 * RC-format options: operations per reasoning target, the share of summary-writing rows, and
 * (optional) the share of reasoning rows that resume from a summary.
 */
export interface ChainRcFormat { window: number; summaryShare: number; resumeShare?: number }

/**
 * The reasoning that follows depth d: the next ≤ window equations, ` \boxed{…}` if the chain ends
 * within them, a leading space when d > 0. Also returns where each equation ends in that text.
 */
export function chainContinuation(eqs: string[], result: number, d: number, window: number): { text: string; ends: number[] } {
  let text = "";
  const ends: number[] = [];
  const end = Math.min(eqs.length, d + window);
  for (let i = d; i < end; i++) {
    text += (text || d > 0 ? " " : "") + eqs[i];
    ends.push(text.length);
  }
  if (end === eqs.length) text += `${text || d > 0 ? " " : ""}\\boxed{${result}}`;
  return { text, ends };
}

function generateChainRc(rng: Rng, maxSteps: number, f: ChainRcFormat, compact: boolean): Problem {
  const n = between(rng, 1, maxSteps);
  const c = drawChain(rng, n, true, compact);
  let d = between(rng, 0, n);
  const reason = rng.uniform() >= f.summaryShare;
  // drawn after the kind, so rows without resumeShare are the ones earlier bases were trained on
  if (reason && f.resumeShare !== undefined) d = rng.uniform() < f.resumeShare ? between(rng, 1, n) : 0;
  const summary = d > 0 ? c.eqs[d - 1] : "";
  const problem = chainProblem(c);
  const { text, ends } = chainContinuation(c.eqs, c.result, d, f.window);
  const templates = RC_TEMPLATES["last-step"];
  let prompt: string, target: string, kind: string;
  if (reason) {
    kind = "reason";
    prompt = renderTemplate(templates.reason, { problem, summary });
    target = text;
  } else {
    kind = "summary";
    let reasoning = text;
    let done = ends.length;
    if (ends.length >= 2 && rng.uniform() < 0.2) {
      const cut = between(rng, ends[0], text.length - 1); // keeps the first equation, drops at least one byte
      reasoning = text.slice(0, cut);
      done = ends.filter((e) => e <= cut).length;
    }
    prompt = renderTemplate(templates.summary, { summary, reasoning });
    target = ` ${done > 0 ? c.eqs[d + done - 1] : summary}`;
  }
  return {
    canonical: `chain-labeled:${c.keys.join(",")}`,
    problem,
    solution: target,
    answer: String(c.result),
    level: chainLevel(n),
    fields: { sft_prompt: prompt, rc_kind: kind, rc_depth: d },
  };
}
