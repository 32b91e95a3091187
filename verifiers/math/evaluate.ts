/**
 * Two evaluators over the expression tree. `exact` works in the Gaussian rationals and throws
 * NotRational for radicals that do not come out, π, trig and logs (unless π is bound to a
 * rational as a free symbol), TooBig past the digit limits, Undefined for 1/0. `approx` is
 * float64 complex arithmetic for the numeric fallback. Neither ever sees source text.
 */
import type { Expr } from "./expr.ts";
import { MAX_FACTORIAL, MAX_ROOT_INDEX, NotRational, TooBig, Undefined } from "./limits.ts";
import * as R from "./rational.ts";

type C = R.C;
const I: C = R.c(R.ZERO, R.ONE);

/** Exact value of e with the symbols in env bound to Gaussian rationals. */
export function exact(e: Expr, env: Map<string, C>): C {
  switch (e.k) {
    case "num":
      return R.c(e.v);
    case "sym":
      return symbolValue(e.name, env);
    case "add":
      return e.args.reduce((acc, a) => R.cAdd(acc, exact(a, env)), R.c(R.ZERO));
    case "mul":
      return e.args.reduce((acc, a) => R.cMul(acc, exact(a, env)), R.c(R.ONE));
    case "neg":
      return R.cNeg(exact(e.a, env));
    case "div":
      return R.cMul(exact(e.a, env), R.cInv(exact(e.b, env)));
    case "pow":
      return power(exact(e.a, env), exact(e.b, env));
    case "fn":
      return exactFunction(e.name, e.args.map((a) => exact(a, env)));
    case "pm":
      throw new Error("bug: ± must be expanded before evaluation");
  }
}

function symbolValue(name: string, env: Map<string, C>): C {
  const v = env.get(name);
  if (v) return v;
  if (name === "i") return I;
  if (name === "infty") throw new Undefined("∞ in arithmetic");
  throw new NotRational(`unbound symbol ${name}`);
}

function realOf(z: C, what: string): R.Q {
  if (!R.cIsReal(z)) throw new NotRational(`complex ${what}`);
  return z.re;
}

function power(base: C, exponent: C): C {
  const k = realOf(exponent, "exponent");
  if (R.isInt(k)) {
    if (R.isZero(base.re) && R.isZero(base.im) && k.n < 0n) throw new Undefined("0 to a negative power");
    return R.cPowInt(base, k.n);
  }
  const b = realOf(base, "base of a fractional power");
  if (b.n < 0n || k.d > BigInt(MAX_ROOT_INDEX)) throw new NotRational("fractional power");
  return R.cPowInt(R.c(rootQ(b, Number(k.d))), k.n);
}

/** The exact k-th root of a non-negative rational, or NotRational. */
function rootQ(x: R.Q, k: number): R.Q {
  if (R.log10Abs(x.n) > 2000 || R.log10Abs(x.d) > 2000) throw new TooBig("root of a huge number");
  const [n, d] = [R.exactRoot(x.n, k), R.exactRoot(x.d, k)];
  if (n === null || d === null) throw new NotRational("irrational root");
  return R.q(n, d);
}

/** sqrt, root, fact, binom, abs of exact arguments; NotRational when the value leaves Q(i). */
export function exactFunction(name: string, args: C[]): C {
  switch (name) {
    case "sqrt": {
      const x = realOf(args[0], "radicand");
      return x.n < 0n ? R.c(R.ZERO, rootQ(R.neg(x), 2)) : R.c(rootQ(x, 2));
    }
    case "root": {
      const [x, k] = [realOf(args[0], "radicand"), realOf(args[1], "root index")];
      if (!R.isInt(k) || k.n < 2n || k.n > BigInt(MAX_ROOT_INDEX)) throw new NotRational("root index");
      if (x.n >= 0n) return R.c(rootQ(x, Number(k.n)));
      if (k.n % 2n === 0n) throw new NotRational("even root of a negative number");
      return R.c(R.neg(rootQ(R.neg(x), Number(k.n)))); // the real odd root: ∛(−8) = −2
    }
    case "fact":
      return R.c(factorial(realOf(args[0], "factorial")));
    case "binom":
      return R.c(binomial(realOf(args[0], "binomial"), realOf(args[1], "binomial")));
    case "abs": {
      if (R.cIsReal(args[0])) return R.c(args[0].re.n < 0n ? R.neg(args[0].re) : args[0].re);
      const norm = R.add(R.mul(args[0].re, args[0].re), R.mul(args[0].im, args[0].im));
      return R.c(rootQ(norm, 2));
    }
    default:
      throw new NotRational(name);
  }
}

function factorial(x: R.Q): R.Q {
  if (!R.isInt(x) || x.n < 0n) throw new Undefined("factorial of a non-natural number");
  if (x.n > BigInt(MAX_FACTORIAL)) throw new TooBig("factorial over the limit");
  let acc = 1n;
  for (let i = 2n; i <= x.n; i++) acc *= i;
  return R.q(acc);
}

function binomial(n: R.Q, k: R.Q): R.Q {
  if (!R.isInt(n) || !R.isInt(k) || n.n < 0n) throw new Undefined("binomial of non-naturals");
  if (k.n < 0n || k.n > n.n) return R.ZERO;
  const small = k.n < n.n - k.n ? k.n : n.n - k.n;
  if (small > BigInt(MAX_FACTORIAL) || R.log10Abs(n.n) * Number(small) > 10_000) throw new TooBig("binomial over the limit");
  let acc = 1n;
  for (let i = 1n; i <= small; i++) acc = (acc * (n.n - small + i)) / i;
  return R.q(acc);
}

/** A float64 complex number [re, im]. */
export type F = [number, number];

/** Float value of e with the symbols in env bound to floats (π and e default to their values). */
export function approx(e: Expr, env: Map<string, number>): F {
  switch (e.k) {
    case "num":
      return [R.toNumber(e.v), 0];
    case "sym":
      return approxSymbol(e.name, env);
    case "add":
      return e.args.reduce<F>((acc, a) => fadd(acc, approx(a, env)), [0, 0]);
    case "mul":
      return e.args.reduce<F>((acc, a) => fmul(acc, approx(a, env)), [1, 0]);
    case "neg": {
      const [re, im] = approx(e.a, env);
      return [-re, -im];
    }
    case "div":
      return fdiv(approx(e.a, env), approx(e.b, env));
    case "pow":
      return fpow(approx(e.a, env), approx(e.b, env));
    case "fn":
      return approxFunction(e.name, e.args.map((a) => approx(a, env)));
    case "pm":
      throw new Error("bug: ± must be expanded before evaluation");
  }
}

function approxSymbol(name: string, env: Map<string, number>): F {
  const v = env.get(name);
  if (v !== undefined) return [v, 0];
  if (name === "pi") return [Math.PI, 0];
  if (name === "e") return [Math.E, 0];
  if (name === "i") return [0, 1];
  return [NaN, NaN]; // ∞ and unbound symbols compare unequal to everything
}

const fadd = (a: F, b: F): F => [a[0] + b[0], a[1] + b[1]];
const fmul = (a: F, b: F): F => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
function fdiv(a: F, b: F): F {
  const d = b[0] * b[0] + b[1] * b[1];
  if (d === 0) return [NaN, NaN];
  return [(a[0] * b[0] + a[1] * b[1]) / d, (a[1] * b[0] - a[0] * b[1]) / d];
}
// + 0 turns −0 into +0, so log(−3) takes the principal branch +πi, not −πi
const flog = (a: F): F => [Math.log(Math.hypot(a[0], a[1])), Math.atan2(a[1] + 0, a[0])];
const fexp = (a: F): F => [Math.exp(a[0]) * Math.cos(a[1]), Math.exp(a[0]) * Math.sin(a[1])];

function fpow(a: F, b: F): F {
  if (b[1] === 0 && Number.isInteger(b[0]) && Math.abs(b[0]) <= 64) {
    let acc: F = [1, 0];
    for (let i = 0; i < Math.abs(b[0]); i++) acc = fmul(acc, a);
    return b[0] < 0 ? fdiv([1, 0], acc) : acc;
  }
  if (a[1] === 0 && b[1] === 0 && a[0] > 0) return [Math.pow(a[0], b[0]), 0];
  if (a[0] === 0 && a[1] === 0) return b[0] > 0 ? [0, 0] : [NaN, NaN];
  return fexp(fmul(b, flog(a)));
}

const REAL_FUNCTIONS: Record<string, (x: number) => number> = {
  sin: Math.sin, cos: Math.cos, tan: Math.tan, cot: (x) => 1 / Math.tan(x), sec: (x) => 1 / Math.cos(x),
  csc: (x) => 1 / Math.sin(x), arcsin: Math.asin, arccos: Math.acos, arctan: Math.atan,
  sinh: Math.sinh, cosh: Math.cosh, tanh: Math.tanh, fact: (x) => gamma(x + 1),
};

function approxFunction(name: string, args: F[]): F {
  const [x] = args;
  switch (name) {
    case "sqrt":
      if (x[1] === 0) return x[0] >= 0 ? [Math.sqrt(x[0]), 0] : [0, Math.sqrt(-x[0])];
      return fpow(x, [0.5, 0]);
    case "root":
      if (x[1] === 0 && x[0] < 0 && args[1][0] % 2 === 1) return [-Math.pow(-x[0], 1 / args[1][0]), 0];
      return fpow(x, fdiv([1, 0], args[1]));
    case "ln":
      return flog(x);
    case "log":
      return fdiv(flog(x), args.length > 1 ? flog(args[1]) : [Math.LN10, 0]);
    case "exp":
      return fexp(x);
    case "abs":
      return [Math.hypot(x[0], x[1]), 0];
    case "binom":
      return [gamma(x[0] + 1) / (gamma(args[1][0] + 1) * gamma(x[0] - args[1][0] + 1)), 0];
  }
  const f = REAL_FUNCTIONS[name];
  if (!f || x[1] !== 0) return [NaN, NaN];
  return [f(x[0]), 0];
}

/** Γ(x) for the non-negative integers the factorial and binomial fallbacks need. */
function gamma(x: number): number {
  if (!Number.isInteger(x) || x <= 0) return NaN;
  let acc = 1;
  for (let i = 2; i < x && acc < Infinity; i++) acc *= i;
  return acc;
}
