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
 */
import type { Rng } from "../../trainer/rng.ts";
import { between, type Problem, type TaskOptions } from "./task.ts";

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

/** One chain problem: `options.steps` operations if given, else the level's default. */
export function generateChain(rng: Rng, level: number, options: TaskOptions): Problem {
  const steps = options.steps ?? CHAIN_STEPS[level];
  if (!steps) throw new Error(`bug: chain level ${level} is not 1-5`);
  const start = between(rng, 1, 20);
  const words: string[] = [], keys: string[] = [`${start}`], work: string[] = [];
  let v = start;
  for (let i = 0; i < steps; i++) {
    const op = drawOp(rng, v);
    const next = op.apply(v);
    words.push(op.words);
    keys.push(op.key);
    work.push(`${v}${op.symbol}${op.operand}=${next}. `);
    v = next;
  }
  return {
    canonical: `chain:${keys.join(",")}`,
    problem: `Start at ${start}; ${words.join("; ")}. Result?`,
    solution: `${work.join("")}\\boxed{${v}}`,
    answer: String(v),
    level: options.steps === undefined ? level : chainLevel(steps),
  };
}
