/**
 * `countdown`: reach a target from given numbers with + - * / and parentheses, each number used
 * exactly once (TinyZero's task; judged by verifiers/countdown.ts from the row's `numbers` and
 * `target`). Targets are built from a random expression whose intermediate values are positive
 * integers, so every problem has at least that solution; the verifier accepts any other.
 *
 * Problem: `Use 25, 5, 3, 7 once each with + - * / to make 67.`
 * Solution: the working, then the expression: `25-5=20. 20*3=60. 60+7=67. \boxed{(25-5)*3+7}`
 * answer: `(25-5)*3+7` (one expression that works; not the only one).
 *
 * | level | numbers | each in | target in |
 * |-------|---------|---------|-----------|
 * | 1     | 3       | 1–9     | 1–99      |
 * | 2     | 3       | 1–25    | 1–99      |
 * | 3     | 4       | 1–25    | 1–999     |
 * | 4     | 4       | 1–100   | 1–999     |
 * | 5     | 5       | 1–100   | 1–999     |
 */
import type { Rng } from "../rng.ts";
import { between, pick, type Problem } from "./task.ts";

const LEVELS: Record<number, { count: number; max: number; targetMax: number }> = {
  1: { count: 3, max: 9, targetMax: 99 },
  2: { count: 3, max: 25, targetMax: 99 },
  3: { count: 4, max: 25, targetMax: 999 },
  4: { count: 4, max: 100, targetMax: 999 },
  5: { count: 5, max: 100, targetMax: 999 },
};

type Op = "+" | "-" | "*" | "/";
type Node = { value: number; text: string; prec: number };

const PREC: Record<Op, number> = { "+": 1, "-": 1, "*": 2, "/": 2 };

/** a op b as a node, or null when the result is not a positive integer. */
function combine(a: Node, op: Op, b: Node): Node | null {
  const value = op === "+" ? a.value + b.value : op === "-" ? a.value - b.value : op === "*" ? a.value * b.value : a.value / b.value;
  if (!Number.isInteger(value) || value <= 0) return null;
  const p = PREC[op];
  // the right operand of - and / needs parentheses at equal precedence: 8-(3-1) ≠ 8-3-1
  const left = a.prec < p ? `(${a.text})` : a.text;
  const right = b.prec < p || (b.prec === p && (op === "-" || op === "/")) ? `(${b.text})` : b.text;
  return { value, text: `${left}${op}${right}`, prec: p };
}

/** Folds the numbers into one expression by joining random pairs; null if a draw fails. */
function buildExpression(rng: Rng, numbers: number[]): { root: Node; work: string[] } | null {
  const pool: Node[] = numbers.map((n) => ({ value: n, text: String(n), prec: 3 }));
  const work: string[] = [];
  while (pool.length > 1) {
    const a = pool.splice(rng.int(pool.length), 1)[0];
    const b = pool.splice(rng.int(pool.length), 1)[0];
    const op = pick(rng, ["+", "-", "*", "/"] as const);
    const node = combine(a, op, b);
    if (!node) return null;
    work.push(`${a.value}${op}${b.value}=${node.value}. `);
    pool.push(node);
  }
  return { root: pool[0], work };
}

/** One countdown problem of the given level (1–5). */
export function generateCountdown(rng: Rng, level: number): Problem {
  const spec = LEVELS[level];
  if (!spec) throw new Error(`bug: countdown level ${level} is not 1-5`);
  for (;;) {
    const numbers = Array.from({ length: spec.count }, () => between(rng, 1, spec.max));
    const built = buildExpression(rng, numbers);
    if (!built || built.root.value > spec.targetMax) continue;
    const target = built.root.value;
    const answer = built.root.text;
    return {
      // the numbers as a multiset: the same numbers in another order are the same problem
      canonical: `countdown:${[...numbers].sort((x, y) => x - y).join(",")}=${target}`,
      problem: `Use ${numbers.join(", ")} once each with + - * / to make ${target}.`,
      solution: `${built.work.join("")}\\boxed{${answer}}`,
      answer,
      level,
      fields: { numbers, target },
    };
  }
}
