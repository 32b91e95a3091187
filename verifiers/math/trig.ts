/**
 * Trig functions at rational multiples of π, folded to exact values where those are square-root
 * expressions: every multiple of 15° (π/12), so sin 30° = ½ and cos 45° = √2/2 compare exactly
 * (§3). Other angles are left as they are, for the numeric rule.
 */
import { exact } from "./evaluate.ts";
import { add, fn, neg, num, someNode, type Expr } from "./expr.ts";
import { NotRational, TooBig, Undefined } from "./limits.ts";
import * as R from "./rational.ts";

/** a + b·π with rational a and b. */
interface Linear {
  a: R.Q;
  b: R.Q;
}

const sqrt = (n: bigint): Expr => fn("sqrt", num(n));
const over = (a: Expr, d: bigint): Expr => ({ k: "div", a, b: num(d) });
const inverse = (e: Expr): Expr => ({ k: "div", a: num(1n), b: e });
// sin of 0°, 15°, …, 90°
const SIN: Expr[] = [
  num(0n), over(add(sqrt(6n), neg(sqrt(2n))), 4n), over(num(1n), 2n), over(sqrt(2n), 2n), over(sqrt(3n), 2n),
  over(add(sqrt(6n), sqrt(2n)), 4n), num(1n),
];
// tan of 0°, 15°, …, 75°
const TAN: Expr[] = [num(0n), add(num(2n), neg(sqrt(3n))), over(sqrt(3n), 3n), num(1n), sqrt(3n), add(num(2n), sqrt(3n))];

const mod = (k: number, m: number): number => ((k % m) + m) % m;

/** sin(k·15°). */
function sinSteps(k: number): Expr {
  k = mod(k, 24);
  if (k <= 6) return SIN[k];
  if (k <= 12) return SIN[12 - k];
  return neg(sinSteps(k - 12));
}

/** tan(k·15°); at 90° the value is 1/0, which equals nothing. */
function tanSteps(k: number): Expr {
  k = mod(k, 12);
  if (k === 6) return over(num(1n), 0n);
  return k < 6 ? TAN[k] : neg(TAN[12 - k]);
}

const VALUES = new Map<string, (k: number) => Expr>([
  ["sin", sinSteps],
  ["cos", (k) => sinSteps(k + 6)],
  ["tan", tanSteps],
  ["cot", (k) => tanSteps(6 - k)],
  ["sec", (k) => inverse(sinSteps(k + 6))],
  ["csc", (k) => inverse(sinSteps(k))],
]);

/** e as a + bπ, or null when it is not of that form (variables, other constants, π², …). */
function linearInPi(e: Expr): Linear | null {
  if (e.k === "sym" && e.name === "pi") return { a: R.ZERO, b: R.ONE };
  if (!someNode(e, (n) => n.k === "sym")) {
    try {
      const v = exact(e, new Map());
      return R.cIsReal(v) ? { a: v.re, b: R.ZERO } : null;
    } catch (err) {
      if (err instanceof NotRational || err instanceof TooBig || err instanceof Undefined) return null; // left for the comparison
      throw err;
    }
  }
  switch (e.k) {
    case "neg": {
      const x = linearInPi(e.a);
      return x && { a: R.neg(x.a), b: R.neg(x.b) };
    }
    case "add":
    case "mul": {
      let acc: Linear | null = e.k === "add" ? { a: R.ZERO, b: R.ZERO } : { a: R.ONE, b: R.ZERO };
      for (const arg of e.args) {
        const x = linearInPi(arg);
        if (!x || !acc) return null;
        if (e.k === "add") acc = { a: R.add(acc.a, x.a), b: R.add(acc.b, x.b) };
        else if (!R.isZero(acc.b) && !R.isZero(x.b)) return null; // a π² term
        else acc = { a: R.mul(acc.a, x.a), b: R.add(R.mul(acc.a, x.b), R.mul(acc.b, x.a)) };
      }
      return acc;
    }
    case "div": {
      const [x, y] = [linearInPi(e.a), linearInPi(e.b)];
      if (!x || !y || !R.isZero(y.b) || R.isZero(y.a)) return null;
      const inv = R.q(y.a.d, y.a.n);
      return { a: R.mul(x.a, inv), b: R.mul(x.b, inv) };
    }
    default:
      return null;
  }
}

/** e with every trig function of a multiple of 15° replaced by its exact value. */
export function foldTrig(e: Expr): Expr {
  if (!someNode(e, (n) => n.k === "fn" && VALUES.has(n.name))) return e;
  switch (e.k) {
    case "add":
    case "mul":
      return { ...e, args: e.args.map(foldTrig) };
    case "neg":
      return { k: "neg", a: foldTrig(e.a) };
    case "div":
    case "pow":
      return { ...e, a: foldTrig(e.a), b: foldTrig(e.b) };
    case "pm":
      return { k: "pm", a: e.a && foldTrig(e.a), b: foldTrig(e.b) };
    case "fn": {
      const args = e.args.map(foldTrig);
      const value = VALUES.get(e.name);
      const angle = value && args.length === 1 ? linearInPi(args[0]) : null;
      if (!value || !angle || !R.isZero(angle.a)) return { ...e, args };
      const steps = R.mul(angle.b, R.q(12n)); // the angle in units of 15°
      return R.isInt(steps) ? value(Number(steps.n % 24n)) : { ...e, args };
    }
    default:
      return e;
  }
}
