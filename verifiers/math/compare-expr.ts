/**
 * Equality of two scalar expressions (policy §3, §4): same canonical tree; else exact evaluation
 * at fixed pseudo-random rational points, with π and e bound like variables (they are
 * transcendental, so an identity in them holds for every value), first in Q(i), then with square
 * roots; else float64 with the §3 tolerance. A side too big to evaluate is equal only by structure.
 */
import { approx, exact, type F } from "./evaluate.ts";
import { canonKey, freeVars, hasDecimal, someNode, type Expr } from "./expr.ts";
import { NotRational, TooBig, Undefined } from "./limits.ts";
import { radical, radicalEq } from "./radical.ts";
import * as R from "./rational.ts";
import { foldTrig } from "./trig.ts";

export type Verdict = "equal_structure" | "equal_exact" | "equal_numeric" | "not_equal";

/** Fixed sample points: small rationals with distinct primes, so accidental agreement is unlikely. */
const POINTS: R.Q[][] = [
  [R.q(3n, 7n), R.q(11n, 13n), R.q(-5n, 17n), R.q(23n, 19n), R.q(7n, 29n), R.q(-13n, 31n)],
  [R.q(17n, 11n), R.q(-2n, 23n), R.q(19n, 37n), R.q(5n, 41n), R.q(-29n, 43n), R.q(31n, 47n)],
  [R.q(-9n, 53n), R.q(41n, 59n), R.q(3n, 61n), R.q(-37n, 67n), R.q(43n, 71n), R.q(13n, 73n)],
  [R.q(47n, 79n), R.q(7n, 83n), R.q(-53n, 89n), R.q(59n, 97n), R.q(11n, 101n), R.q(-61n, 103n)],
  [R.q(67n, 107n), R.q(-71n, 109n), R.q(73n, 113n), R.q(17n, 127n), R.q(-79n, 131n), R.q(83n, 137n)],
];
// factorials and binomials of variables are only defined at natural numbers
const NATURAL_POINTS: R.Q[][] = POINTS.map((row, p) => row.map((_, j) => R.q(BigInt(3 + p + 2 * j))));
const TOLERANCE = 1e-9;
// With a decimal literal on a side, only float64 rounding noise may separate truly equal values.
const DECIMAL_TOLERANCE = 1e-13;
const INFINITIES = new Set(["infty", "-(infty)"]);

const hasInfinity = (e: Expr): boolean => someNode(e, (n) => n.k === "sym" && n.name === "infty");
const usesConstant = (e: Expr): boolean => someNode(e, (n) => n.k === "sym" && (n.name === "pi" || n.name === "e"));
const usesCombinatorics = (e: Expr): boolean =>
  someNode(e, (n) => n.k === "fn" && (n.name === "fact" || n.name === "binom"));

/** Where two expressions are sampled: their variables, and the symbols bound in exact evaluation. */
interface Sampling {
  vars: string[]; // bound at every evaluation
  symbols: string[]; // vars plus π and e, bound only in exact evaluation
  naturals: boolean; // sample at natural numbers (factorials of variables)
}

function sampling(...es: Expr[]): Sampling {
  const vars = [...es.reduce((acc, e) => freeVars(e, acc), new Set<string>())].sort();
  const constants = es.some(usesConstant) ? ["pi", "e"] : [];
  return { vars, symbols: [...vars, ...constants], naturals: vars.length > 0 && es.some(usesCombinatorics) };
}

/** The value of each name at the p-th sample point. */
function point(names: string[], p: number, naturals: boolean): [string, R.Q][] {
  const row = (naturals ? NATURAL_POINTS : POINTS)[p];
  return names.map((v, j) => {
    const x = j < row.length ? row[j] : R.q(BigInt(2 * j + 3), BigInt(j + 101));
    return [v, (v === "pi" || v === "e") && x.n < 0n ? R.neg(x) : x]; // π, e > 0 keeps √(π²) = π
  });
}
const exactEnv = (s: Sampling, p: number): Map<string, R.C> =>
  new Map(point(s.symbols, p, s.naturals).map(([k, v]) => [k, R.c(v)]));
const floatEnv = (s: Sampling, p: number): Map<string, number> =>
  new Map(point(s.vars, p, s.naturals).map(([k, v]) => [k, R.toNumber(v)]));
const rounds = (names: string[]): number => (names.length ? POINTS.length : 1);

/** Whether two scalar expressions are the same value (or the same function of their variables). */
export function compareScalar(a: Expr, b: Expr): Verdict {
  const key = canonKey(a);
  if (key === canonKey(b)) return INFINITIES.has(key) || !isUndefined(a) ? "equal_structure" : "not_equal";
  if (hasInfinity(a) || hasInfinity(b)) return "not_equal"; // ∞ equals only itself, by structure
  [a, b] = [foldTrig(a), foldTrig(b)];
  const s = sampling(a, b);
  return compareExact(a, b, s) ?? compareRadical(a, b, s) ?? compareApprox(a, b, s);
}

/** Whether e is undefined (1/0, 0/0) at the first sample point: it equals nothing, not even itself. */
function isUndefined(e: Expr): boolean {
  try {
    exact(e, exactEnv(sampling(e), 0));
    return false;
  } catch (err) {
    return err instanceof Undefined;
  }
}

function compareExact(a: Expr, b: Expr, s: Sampling): Verdict | null {
  try {
    for (let p = 0; p < rounds(s.symbols); p++) {
      const env = exactEnv(s, p);
      if (!R.cEq(exact(a, env), exact(b, env))) return "not_equal";
    }
    return "equal_exact";
  } catch (err) {
    if (err instanceof TooBig || err instanceof Undefined) return "not_equal";
    if (err instanceof NotRational) return null;
    throw err;
  }
}

/** Exact comparison in Q(i)(√2, √3, …): decides `\frac{2}{\sqrt6}` = `\frac{\sqrt6}{3}` without floats. */
function compareRadical(a: Expr, b: Expr, s: Sampling): Verdict | null {
  try {
    for (let p = 0; p < rounds(s.symbols); p++) {
      const env = exactEnv(s, p);
      if (!radicalEq(radical(a, env), radical(b, env))) return "not_equal";
    }
    return "equal_exact";
  } catch (err) {
    if (err instanceof TooBig || err instanceof Undefined) return "not_equal";
    if (err instanceof NotRational) return null;
    throw err;
  }
}

/** Whether e evaluates to a rational (no radical, trig, log or π left) at the first point. */
function isRational(e: Expr, s: Sampling): boolean {
  try {
    exact(e, new Map(point(s.vars, 0, s.naturals).map(([k, v]) => [k, R.c(v)])));
    return true;
  } catch {
    return false;
  }
}

function compareApprox(a: Expr, b: Expr, s: Sampling): Verdict {
  const decimals = hasDecimal(a) || hasDecimal(b);
  // a decimal is the exact number it spells: it never equals an irrational value (§3)
  if (decimals && (isRational(a, s) || isRational(b, s))) return "not_equal";
  const tolerance = decimals ? DECIMAL_TOLERANCE : TOLERANCE;
  for (let p = 0; p < rounds(s.vars); p++) {
    const env = floatEnv(s, p);
    if (!close(approx(a, env), approx(b, env), tolerance)) return "not_equal";
  }
  return "equal_numeric";
}

function close(x: F, y: F, tolerance: number): boolean {
  if (![...x, ...y].every(Number.isFinite)) return false;
  const scale = Math.max(1, Math.hypot(x[0], x[1]), Math.hypot(y[0], y[1]));
  return Math.hypot(x[0] - y[0], x[1] - y[1]) <= tolerance * scale;
}

/** Whether a = c·b for one nonzero constant c at every sample point (equations L − R, §5). */
export function compareProportional(a: Expr, b: Expr): Verdict {
  if (canonKey(a) === canonKey(b)) return "equal_structure";
  [a, b] = [foldTrig(a), foldTrig(b)];
  const s = sampling(a, b);
  try {
    const ratio = constantRatio(s, (p) => [exact(a, exactEnv(s, p)), exact(b, exactEnv(s, p))]);
    return ratio ? "equal_exact" : "not_equal";
  } catch (err) {
    if (!(err instanceof NotRational)) return "not_equal";
  }
  let ratio: F | null = null;
  for (let p = 0; p < POINTS.length; p++) {
    const env = floatEnv(s, p);
    const r = fdivide(approx(a, env), approx(b, env));
    if (!r || (ratio && !close(ratio, r, TOLERANCE))) return "not_equal";
    ratio = r;
  }
  return "equal_numeric";
}

/** The exact ratio x/y shared by every sample point, or null (a zero on one side only, or no constant). */
function constantRatio(s: Sampling, at: (p: number) => [R.C, R.C]): R.C | null {
  let ratio: R.C | null = null;
  const zero = R.c(R.ZERO);
  for (let p = 0; p < POINTS.length; p++) {
    const [x, y] = at(p);
    if (R.cEq(x, zero) !== R.cEq(y, zero)) return null;
    if (R.cEq(y, zero)) continue;
    const r = R.cMul(x, R.cInv(y));
    if (ratio && !R.cEq(ratio, r)) return null;
    ratio = r;
  }
  return ratio;
}

function fdivide(x: F, y: F): F | null {
  const d = y[0] * y[0] + y[1] * y[1];
  if (!(d > 0) || (x[0] === 0 && x[1] === 0)) return null;
  return [(x[0] * y[0] + x[1] * y[1]) / d, (x[1] * y[0] - x[0] * y[1]) / d];
}
