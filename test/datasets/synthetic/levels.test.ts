// Levels change difficulty as each module header documents: steps, digits, number counts, forms,
// and negatives and fractions appearing only at the high levels.
import { describe, expect, test } from "vitest";
import { generate } from "../../../datasets/synthetic/index.ts";
import { readArith, readChain } from "./oracle.ts";

const rowsOf = (task: "arith" | "chain" | "countdown" | "linear" | "program", level: number, count = 300) =>
  generate({ task, level, count, seed: 31 });
const isNegative = (a: string) => /-\d/.test(a);
const isFraction = (a: string) => a.includes("/");

describe("arith", () => {
  // [operations, largest start, largest single operand]
  const table: Record<number, [number, number, number]> = { 1: [1, 50, 9], 2: [2, 50, 9], 3: [3, 99, 20], 4: [4, 99, 99], 5: [5, 999, 999] };

  test.each([1, 2, 3, 4, 5])("level %i has its number of operations and digits", (level) => {
    const [operations, startMax, operandMax] = table[level];
    const rows = rowsOf("arith", level);
    expect(rows).toHaveLength(300);
    for (const row of rows) {
      const clauses = /\. (?:She|He) (.+)\. How/.exec(row.problem!)![1].split(/, | and /);
      expect(clauses).toHaveLength(operations);
      const { start } = readArith(row.problem!);
      expect(Number(start[0])).toBeLessThanOrEqual(startMax);
      const operands = clauses.flatMap((c) => c.match(/\d+/g) ?? []).map(Number);
      expect(Math.max(0, ...operands), row.problem).toBeLessThanOrEqual(operandMax);
    }
    // the top of the start range is used: the digits really grow with the level
    expect(Math.max(...rows.map((r) => Number(readArith(r.problem!).start[0])))).toBeGreaterThan(startMax / 2);
  });

  test.each([1, 2, 3])("level %i answers are whole and non-negative", (level) => {
    for (const row of rowsOf("arith", level)) expect(row.answer).toMatch(/^\d+$/);
  });

  test.each([4, 5])("level %i answers include negatives and fractions", (level) => {
    const answers = rowsOf("arith", level).map((r) => r.answer!);
    expect(answers.filter(isNegative).length).toBeGreaterThan(15);
    expect(answers.filter(isFraction).length).toBeGreaterThan(15);
  });
});

describe("chain", () => {
  test.each([[1, 2], [2, 4], [3, 8], [4, 16], [5, 32]])("level %i has %i operations", (level, steps) => {
    for (const row of rowsOf("chain", level, 50)) expect(readChain(row.problem!).ops).toHaveLength(steps);
  });

  test("steps overrides the level and files the row by length", () => {
    const levelOf = (steps: number) => generate({ task: "chain", steps, count: 1 })[0].level;
    expect([1, 3, 4, 7, 8, 31, 32, 200].map(levelOf)).toEqual([1, 1, 2, 2, 3, 4, 5, 5]);
  });

  test("values stay within ±99 however long the chain", () => {
    for (const row of generate({ task: "chain", steps: 300, count: 5 })) {
      const values = row.solution!.match(/=-?\d+/g)!.map((v) => Math.abs(Number(v.slice(1))));
      expect(values).toHaveLength(300);
      expect(Math.max(...values)).toBeLessThanOrEqual(99);
    }
  });
});

test.each([[1, 3, 9, 99], [2, 3, 25, 99], [3, 4, 25, 999], [4, 4, 100, 999], [5, 5, 100, 999]])(
  "countdown level %i: %i numbers up to %i, target up to %i", (level, count, max, targetMax) => {
    for (const row of rowsOf("countdown", level)) {
      const numbers = row.numbers as number[];
      expect(numbers).toHaveLength(count);
      expect(Math.max(...numbers)).toBeLessThanOrEqual(max);
      expect(row.target).toBeGreaterThan(0);
      expect(row.target).toBeLessThanOrEqual(targetMax);
    }
  });

describe("linear", () => {
  test("levels 1-3 have integer roots, level 4 mostly fractions, level 5 ordered pairs", () => {
    for (const level of [1, 2, 3]) for (const row of rowsOf("linear", level)) expect(row.answer).toMatch(/^x=-?\d+$/);
    const four = rowsOf("linear", 4).map((r) => r.answer!);
    expect(four.filter(isFraction).length).toBeGreaterThan(150);
    expect(four.filter(isNegative).length).toBeGreaterThan(50);
    for (const row of rowsOf("linear", 5)) expect(row.answer).toMatch(/^\(-?\d+(\/\d+)?,-?\d+(\/\d+)?\)$/);
  });

  test("x appears on both sides from level 3 on, and y only at level 5", () => {
    const bothSides = (p: string) => p.split("=").every((side) => side.includes("x"));
    expect(rowsOf("linear", 2).some((r) => bothSides(r.problem!))).toBe(false);
    expect(rowsOf("linear", 3).every((r) => bothSides(r.problem!))).toBe(true);
    expect(rowsOf("linear", 4).some((r) => r.problem!.includes("y"))).toBe(false);
    expect(rowsOf("linear", 5).every((r) => r.problem!.includes("y"))).toBe(true);
  });
});

test("program levels move from integers to strings to lists", () => {
  const args = (level: number) => new Set(rowsOf("program", level, 100).map((r) => /function f\((\w+)\)/.exec(r.problem!)![1]));
  expect(args(1)).toEqual(new Set(["x"]));
  expect(args(2)).toEqual(new Set(["s"]));
  expect(args(3)).toEqual(new Set(["xs"]));
  expect(args(4)).toEqual(new Set(["xs"]));
  expect(args(5)).toEqual(new Set(["x", "s", "xs"]));
});
