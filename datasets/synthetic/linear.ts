/**
 * `linear`: linear equations in x, and 2×2 systems in x and y, with exact rational solutions.
 *
 * | level | form                    | solution                          | example problem                 |
 * |-------|-------------------------|-----------------------------------|---------------------------------|
 * | 1     | x+a=b, x-a=b, ax=b      | integer 1–20                      | `Solve x+5=12.`                 |
 * | 2     | ax+b=c                  | integer −9–9                      | `Solve 3x-5=-14.`               |
 * | 3     | ax+b=cx+d               | integer −9–9                      | `Solve 5x+3=2x-9.`              |
 * | 4     | ax+b=cx+d               | any rational (mostly fractions)   | `Solve 5x+3=x-4.`               |
 * | 5     | ax+by=c, dx+ey=f        | an ordered pair of rationals      | `Solve for (x,y): 2x+3y=7, x-y=1.` |
 *
 * Solutions isolate x (`5x-2x=-9-3. 3x=-12. x=-12/3=-4. \boxed{x=-4}`); systems use Cramer's rule
 * (`D=2*(-1)-3*1=-5. x=(7*(-1)-3*1)/(-5)=2. y=(2*1-7*1)/(-5)=1. \boxed{(2,1)}`).
 * Answers: `x=-3/4` (the math grader also accepts a bare `-3/4`) or `(2,1/2)`.
 */
import type { Rng } from "../rng.ts";
import { div, frac, show, type Fraction } from "./fraction.ts";
import { between, pick, type Problem } from "./task.ts";

/** A nonzero integer in ±[lo, hi]. */
const nonzero = (rng: Rng, lo: number, hi: number) => between(rng, lo, hi) * (rng.int(2) ? 1 : -1);

/** `3x`, `-x`, `+2y` (the sign only when not first). */
function term(coef: number, name: string, first: boolean): string {
  const sign = coef < 0 ? "-" : first ? "" : "+";
  const size = Math.abs(coef) === 1 && name ? "" : String(Math.abs(coef));
  return `${sign}${size}${name}`;
}

/** One side of an equation: the nonzero terms, `0` when there are none. */
function side(terms: [number, string][]): string {
  const kept = terms.filter(([c]) => c !== 0);
  return kept.length ? kept.map(([c, n], i) => term(c, n, i === 0)).join("") : "0";
}

/** A number as an operand: negative ones in parentheses. */
const paren = (n: number) => (n < 0 ? `(${n})` : String(n));

/** `x=q`, written `x=n/d=q` when the division simplifies. */
function quotient(name: string, n: number, d: number): string {
  const q = show(div(frac(n), frac(d)));
  const written = d === 1 ? String(n) : `${n}/${paren(d)}`;
  return written === q ? `${name}=${q}` : `${name}=${written}=${q}`;
}

function level1(rng: Rng): Problem {
  const x = between(rng, 1, 20), a = between(rng, 2, 9);
  const kind = rng.int(3);
  const [equation, work] =
    kind === 0 ? [`x+${a}=${x + a}`, `x=${x + a}-${a}=${x}`]
    : kind === 1 ? [`x-${a}=${x - a}`, `x=${paren(x - a)}+${a}=${x}`]
    : [`${a}x=${a * x}`, `x=${a * x}/${a}=${x}`];
  return linearProblem(equation, `${work}. `, frac(x), 1);
}

function level2(rng: Rng): Problem {
  const a = nonzero(rng, 2, 9), b = nonzero(rng, 1, 9), x = between(rng, -9, 9);
  const c = a * x + b;
  const work = `${a}x=${c}${b < 0 ? `+${-b}` : `-${b}`}=${c - b}. ${quotient("x", c - b, a)}. `;
  return linearProblem(`${side([[a, "x"], [b, ""]])}=${c}`, work, frac(x), 2);
}

/** ax+b=cx+d with an integer root (level 3) or any rational root (level 4). */
function twoSided(rng: Rng, level: number): Problem {
  const max = level === 3 ? 9 : 12;
  const a = nonzero(rng, 1, max);
  let c = nonzero(rng, 1, max);
  while (c === a) c = nonzero(rng, 1, max);
  const b = between(rng, -9, 9);
  const d = level === 3 ? (a - c) * between(rng, -9, 9) + b : between(rng, -20, 20);
  const lhs = side([[a, "x"], [b, ""]]), rhs = side([[c, "x"], [d, ""]]);
  const move = `${term(a, "x", true)}${c < 0 ? `+${term(-c, "x", true)}` : `-${term(c, "x", true)}`}=${d}${b < 0 ? `+${-b}` : `-${b}`}`;
  const work = `${move}. ${side([[a - c, "x"]])}=${d - b}. ${quotient("x", d - b, a - c)}. `;
  return linearProblem(`${lhs}=${rhs}`, work, div(frac(d - b), frac(a - c)), level);
}

function linearProblem(equation: string, work: string, x: Fraction, level: number): Problem {
  const answer = `x=${show(x)}`;
  return { canonical: `linear:${equation}`, problem: `Solve ${equation}.`, solution: `${work}\\boxed{${answer}}`, answer, level };
}

/** ax+by=c, dx+ey=f with a nonzero determinant, solved by Cramer's rule. */
function system(rng: Rng): Problem {
  for (;;) {
    const [a, b, d, e] = [nonzero(rng, 1, 9), nonzero(rng, 1, 9), nonzero(rng, 1, 9), pick(rng, [-1, 1]) * between(rng, 1, 9)];
    const det = a * e - b * d;
    if (det === 0) continue;
    const [c, f] = [between(rng, -20, 20), between(rng, -20, 20)];
    const [nx, ny] = [c * e - b * f, a * f - c * d];
    const equations = `${side([[a, "x"], [b, "y"]])}=${c}, ${side([[d, "x"], [e, "y"]])}=${f}`;
    const answer = `(${show(div(frac(nx), frac(det)))},${show(div(frac(ny), frac(det)))})`;
    const work = [
      `D=${paren(a)}*${paren(e)}-${paren(b)}*${paren(d)}=${det}`,
      `x=(${paren(c)}*${paren(e)}-${paren(b)}*${paren(f)})/${paren(det)}=${show(div(frac(nx), frac(det)))}`,
      `y=(${paren(a)}*${paren(f)}-${paren(c)}*${paren(d)})/${paren(det)}=${show(div(frac(ny), frac(det)))}`,
    ];
    return {
      canonical: `linear:${equations}`,
      problem: `Solve for (x,y): ${equations}.`,
      solution: `${work.map((w) => `${w}. `).join("")}\\boxed{${answer}}`,
      answer,
      level: 5,
    };
  }
}

/** One linear problem of the given level (1–5). */
export function generateLinear(rng: Rng, level: number): Problem {
  if (level === 1) return level1(rng);
  if (level === 2) return level2(rng);
  if (level === 3 || level === 4) return twoSided(rng, level);
  if (level === 5) return system(rng);
  throw new Error(`bug: linear level ${level} is not 1-5`);
}
