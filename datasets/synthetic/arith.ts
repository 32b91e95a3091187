/**
 * `arith`: multi-step arithmetic word problems about a running amount, with exact answers.
 *
 * Problem: `Ann has 12 pens. She gets 5, loses 3 and doubles them. How many pens now?`
 * Solution: one equation per operation, then the box: `12+5=17. 17-3=14. 14*2=28. \boxed{28}`
 * (`buys 2 packs of 4` is two equations: `2*4=8. 14+8=22.`; `keeps 1/3 of them` divides by 3).
 *
 * | level | operations | start   | operands | operations drawn from                  | answers              |
 * |-------|------------|---------|----------|----------------------------------------|----------------------|
 * | 1     | 1          | 1–50    | 1–9      | gets, loses                            | integers ≥ 0         |
 * | 2     | 2          | 1–50    | 1–9      | + buys k packs of m, doubles/triples   | integers ≥ 0         |
 * | 3     | 3          | 10–99   | 1–20     | + keeps 1/k (only when exact)          | integers ≥ 0         |
 * | 4     | 4          | 10–99   | 1–99     | earns, spends, pays k bills of m, …    | negatives, fractions |
 * | 5     | 5          | 100–999 | 1–999    | as level 4                             | negatives, fractions |
 *
 * Levels 4–5 are about money (`Ann has 120 dollars. She spends 150, …`), so the amount may go
 * below zero and `keeps 1/k of it` may leave a fraction (`-9/2`), written in parentheses when it is
 * the left operand of the next step (`(-9/2)*2=-9`). The canonical form is the arithmetic alone
 * (`arith:items:12,+5,-3,*2`), so a story retold with another name is the same problem.
 */
import type { Rng } from "../rng.ts";
import { add, div, frac, isInteger, magnitude, mul, show, showOperand, sub, type Fraction } from "./fraction.ts";
import { between, pick, type Problem } from "./task.ts";

type Kind = "gain" | "loss" | "packs" | "scale" | "keep";

interface Level {
  operations: number;
  start: [number, number];
  operandMax: number;
  kinds: Kind[];
  /** Money: amounts may go negative and divisions need not be exact. */
  money: boolean;
}

const LEVELS: Record<number, Level> = {
  1: { operations: 1, start: [1, 50], operandMax: 9, kinds: ["gain", "loss"], money: false },
  2: { operations: 2, start: [1, 50], operandMax: 9, kinds: ["gain", "loss", "packs", "scale"], money: false },
  3: { operations: 3, start: [10, 99], operandMax: 20, kinds: ["gain", "loss", "packs", "scale", "keep"], money: false },
  4: { operations: 4, start: [10, 99], operandMax: 99, kinds: ["gain", "loss", "packs", "scale", "keep"], money: true },
  5: { operations: 5, start: [100, 999], operandMax: 999, kinds: ["gain", "loss", "packs", "scale", "keep"], money: true },
};

const PEOPLE: [string, string][] = [
  ["Ann", "She"], ["Bob", "He"], ["Eve", "She"], ["Max", "He"], ["Sam", "He"], ["Zoe", "She"], ["Tom", "He"], ["Kim", "She"],
];
const ITEMS = ["pens", "cards", "coins", "shells", "stamps", "beads", "apples", "books"];

/** One operation: its words, its key in the canonical form, and its working. */
interface Step { words: string; key: string; work: string[]; value: Fraction }

// a fractional left operand is always parenthesized, `(-9/2)+5=1/2`: one regular spelling to learn
const equation = (a: Fraction, op: string, b: Fraction, c: Fraction) => `${showOperand(a)}${op}${show(b)}=${show(c)}`;

/** Draws one operation on v that the level allows, or null when the drawn kind does not fit v. */
function drawStep(rng: Rng, v: Fraction, level: Level): Step | null {
  const kind = pick(rng, level.kinds);
  const them = level.money ? "it" : "them";
  const operand = () => frac(between(rng, 1, level.operandMax));
  if (kind === "gain") {
    const n = operand(), r = add(v, n);
    return { words: `${level.money ? "earns" : "gets"} ${show(n)}`, key: `+${show(n)}`, work: [equation(v, "+", n, r)], value: r };
  }
  if (kind === "loss") {
    if (!level.money && v.n < 1n) return null; // a count cannot go below zero
    const n = level.money ? operand() : frac(between(rng, 1, Math.min(level.operandMax, Number(v.n))));
    const r = sub(v, n);
    return { words: `${level.money ? "spends" : "loses"} ${show(n)}`, key: `-${show(n)}`, work: [equation(v, "-", n, r)], value: r };
  }
  if (kind === "packs") {
    const k = frac(between(rng, 2, 5)), m = frac(between(rng, 2, Math.min(level.operandMax, 12)));
    const p = mul(k, m), r = level.money ? sub(v, p) : add(v, p);
    const words = level.money ? `pays ${show(k)} bills of ${show(m)}` : `buys ${show(k)} packs of ${show(m)}`;
    const key = `${level.money ? "-" : "+"}${show(k)}*${show(m)}`;
    return { words, key, work: [equation(k, "*", m, p), equation(v, level.money ? "-" : "+", p, r)], value: r };
  }
  if (kind === "scale") {
    if (magnitude(v) > 1e5) return null; // keeps answers short
    const k = between(rng, 2, 3), r = mul(v, frac(k));
    return { words: `${k === 2 ? "doubles" : "triples"} ${them}`, key: `*${k}`, work: [equation(v, "*", frac(k), r)], value: r };
  }
  const k = frac(between(rng, 2, 5)), r = div(v, k);
  if (!level.money && !isInteger(r)) return null; // counts split only evenly
  return { words: `keeps 1/${show(k)} of ${them}`, key: `/${show(k)}`, work: [equation(v, "/", k, r)], value: r };
}

/** `a`, `a and b`, `a, b and c`. */
function listWords(parts: string[]): string {
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

/** One arith problem of the given level (1–5). */
export function generateArith(rng: Rng, levelNumber: number): Problem {
  const level = LEVELS[levelNumber];
  if (!level) throw new Error(`bug: arith level ${levelNumber} is not 1-5`);
  const start = frac(between(rng, ...level.start));
  const steps: Step[] = [];
  let v = start;
  while (steps.length < level.operations) {
    const step = drawStep(rng, v, level);
    if (step) {
      steps.push(step);
      v = step.value;
    }
  }
  const [name, pronoun] = pick(rng, PEOPLE);
  const unit = level.money ? "dollars" : pick(rng, ITEMS);
  const problem = `${name} has ${show(start)} ${unit}. ${pronoun} ${listWords(steps.map((s) => s.words))}. How many ${unit} now?`;
  const solution = `${steps.flatMap((s) => s.work).map((e) => `${e}. `).join("")}\\boxed{${show(v)}}`;
  const canonical = `arith:${level.money ? "money" : "items"}:${[show(start), ...steps.map((s) => s.key)].join(",")}`;
  return { canonical, problem, solution, answer: show(v), level: levelNumber };
}
