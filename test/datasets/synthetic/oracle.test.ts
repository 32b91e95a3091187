// Answers recomputed from the problem text alone with the test's own BigInt rationals (oracle.ts),
// and every written equation of the worked solutions checked the same way.
import { expect, test } from "vitest";
import { generate } from "../../../datasets/synthetic/index.ts";
import { apply, checkEquations, evalLinear, q, readArith, readChain, readQ, run, showQ } from "./oracle.ts";

test("the oracle's arithmetic agrees with hand-worked values", () => {
  expect(showQ(apply(q(-13 * 2), "/", q(3)))).toBe("-26/3");
  expect(showQ(run(q(12), [["+", q(5)], ["-", q(3)], ["*", q(2)]]))).toBe("28");
  expect(showQ(evalLinear("-3x+2y-5", q(1, 3), q(2)))).toBe("-2");
});

test.each([1, 2, 3, 4, 5])("arith level %i: the answer recomputed from the story matches", (level) => {
  const rows = generate({ task: "arith", level, count: 400, seed: 21 });
  expect(rows).toHaveLength(400);
  for (const row of rows) {
    const { start, ops } = readArith(row.problem!);
    expect(ops.length, row.problem).toBeGreaterThanOrEqual(level);
    expect(showQ(run(start, ops)), row.problem).toBe(row.answer);
    expect(checkEquations(row.solution!), row.solution).toBeGreaterThanOrEqual(level);
  }
});

test.each([1, 2, 3, 4, 5])("chain level %i: recomputed answer matches and the working carries each value on", (level) => {
  const rows = generate({ task: "chain", level, count: 200, seed: 22 });
  expect(rows).toHaveLength(200);
  for (const row of rows) {
    const { start, ops } = readChain(row.problem!);
    expect(showQ(run(start, ops))).toBe(row.answer);
    const equations = row.solution!.split(". ").slice(0, -1);
    expect(checkEquations(row.solution!)).toBe(ops.length);
    // each equation starts from the previous result: the solution is the state trace
    let v = start;
    equations.forEach((eq, i) => {
      expect(eq.startsWith(`${showQ(v)}${ops[i][0]}${showQ(ops[i][1])}=`), `${eq} after ${showQ(v)}`).toBe(true);
      v = apply(v, ops[i][0], ops[i][1]);
    });
  }
});

test("chain with 128 steps (4x a 32-step horizon) is still exact", () => {
  const rows = generate({ task: "chain", steps: 128, count: 20, seed: 23 });
  expect(rows).toHaveLength(20);
  for (const row of rows) {
    const { start, ops } = readChain(row.problem!);
    expect(ops).toHaveLength(128);
    expect(showQ(run(start, ops))).toBe(row.answer);
    expect(checkEquations(row.solution!)).toBe(128);
  }
});

test.each([1, 2, 3, 4])("linear level %i: the answer satisfies the equation, which has one root", (level) => {
  const rows = generate({ task: "linear", level, count: 300, seed: 24 });
  expect(rows).toHaveLength(300);
  for (const row of rows) {
    const [lhs, rhs] = /^Solve (.+)\.$/.exec(row.problem!)![1].split("=");
    const x = readQ(/^x=(.+)$/.exec(row.answer!)![1]);
    expect(showQ(evalLinear(lhs, x)), row.problem).toBe(showQ(evalLinear(rhs, x)));
    // one root: the x coefficients differ between the sides (slope = f(1) - f(0))
    const slope = (side: string) => showQ(apply(evalLinear(side, q(1)), "-", evalLinear(side, q(0))));
    expect(slope(lhs)).not.toBe(slope(rhs));
  }
});

test("linear level 5: the pair satisfies both equations, whose determinant is nonzero", () => {
  const rows = generate({ task: "linear", level: 5, count: 300, seed: 25 });
  expect(rows).toHaveLength(300);
  for (const row of rows) {
    const equations = /^Solve for \(x,y\): (.+), (.+)\.$/.exec(row.problem!)!.slice(1);
    const [x, y] = /^\((.+),(.+)\)$/.exec(row.answer!)!.slice(1).map(readQ);
    const coef = (side: string) => [evalLinear(side, q(1), q(0)), evalLinear(side, q(0), q(1))];
    for (const eq of equations) {
      const [lhs, rhs] = eq.split("=");
      expect(showQ(evalLinear(lhs, x, y)), row.problem).toBe(rhs);
    }
    const [[a, b], [d, e]] = equations.map((eq) => coef(eq.split("=")[0]));
    expect(showQ(apply(apply(a, "*", e), "-", apply(b, "*", d)))).not.toBe("0");
  }
});
