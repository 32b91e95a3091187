/**
 * Exact values with square roots: finite sums Σ c·√m with c a Gaussian rational and m a
 * squarefree positive integer. Square roots of distinct squarefree integers are linearly
 * independent over Q(i), so two values are equal iff their coefficient maps are. Only what this
 * field closes over is supported (division by a single term); anything else throws NotRational.
 */
import { exactFunction } from "./evaluate.ts";
import type { Expr } from "./expr.ts";
import { NotRational, Undefined } from "./limits.ts";
import * as R from "./rational.ts";

/** Σ coefficient·√key; key 1n is the rational part. Zero coefficients are never stored. */
export type Radical = Map<bigint, R.C>;

const MAX_TERMS = 64;
const MAX_RADICAND = 10n ** 12n; // squarefree parts are found by trial division up to its cube root
const ZERO = R.c(R.ZERO);
const isZero = (z: R.C): boolean => R.cEq(z, ZERO);

function single(key: bigint, coefficient: R.C): Radical {
  return isZero(coefficient) ? new Map() : new Map([[key, coefficient]]);
}

function addInto(out: Radical, key: bigint, coefficient: R.C): void {
  const sum = R.cAdd(out.get(key) ?? ZERO, coefficient);
  if (isZero(sum)) out.delete(key);
  else out.set(key, sum);
  if (out.size > MAX_TERMS) throw new NotRational("too many radical terms");
}

function sum(a: Radical, b: Radical): Radical {
  const out = new Map(a);
  for (const [k, c] of b) addInto(out, k, c);
  return out;
}

const gcd = (a: bigint, b: bigint): bigint => (b ? gcd(b, a % b) : a);

/** √m1·√m2 for squarefree m1, m2 = g·√(m1 m2 / g²) with g = gcd(m1, m2). */
function product(a: Radical, b: Radical): Radical {
  const out: Radical = new Map();
  for (const [m1, c1] of a)
    for (const [m2, c2] of b) {
      const g = gcd(m1, m2);
      addInto(out, (m1 / g) * (m2 / g), R.cMul(R.cMul(c1, c2), R.c(R.q(g))));
    }
  return out;
}

/** 1/(c√m) = √m/(c·m); a sum of several terms is not inverted here. */
function inverse(a: Radical): Radical {
  if (a.size !== 1) throw new NotRational(a.size ? "inverse of a sum of radicals" : "division by zero");
  const [[m, c]] = a;
  if (isZero(c)) throw new Undefined("division by zero");
  return single(m, R.cInv(R.cMul(c, R.c(R.q(m)))));
}

/** n = s²·m with m squarefree, for 0 < n ≤ MAX_RADICAND (float64-exact, so plain numbers). */
function squarefree(big: bigint): [s: bigint, m: bigint] {
  if (big > MAX_RADICAND) throw new NotRational("radicand too large to factor");
  const n = Number(big);
  let s = 1, odd = 1, rest = n;
  for (let d = 2; d * d * d <= n; d++) {
    let e = 0;
    for (; rest % d === 0; e++) rest /= d;
    s *= d ** Math.floor(e / 2);
    if (e % 2) odd *= d;
  }
  // rest has only primes above ∛n, so it is 1, p, p² or pq: a square only as p²
  const r = Math.round(Math.sqrt(rest));
  return r * r === rest ? [BigInt(s * r), BigInt(odd)] : [BigInt(s), BigInt(odd * rest)];
}

/** √x for a rational x: √(p/q) = √(pq)/q, and √(−x) = i√x. */
function sqrtOf(x: R.Q): Radical {
  if (x.n === 0n) return new Map();
  const [s, m] = squarefree((x.n < 0n ? -x.n : x.n) * x.d);
  const magnitude = R.q(s, x.d);
  return single(m, x.n < 0n ? R.c(R.ZERO, magnitude) : R.c(magnitude));
}

function rationalOf(a: Radical, what: string): R.C {
  if (a.size === 0) return ZERO;
  if (a.size === 1 && a.has(1n)) return a.get(1n)!;
  throw new NotRational(`irrational ${what}`);
}

function power(base: Radical, exponent: R.C): Radical {
  const k = rationalOf(new Map([[1n, exponent]]), "exponent");
  if (!R.cIsReal(k) || k.re.d > 2n) throw new NotRational("exponent");
  let n = k.re.n;
  if (k.re.d === 2n) base = sqrtOf(rationalOf(base, "base of a half power").re); // x^(n/2) = (√x)^n
  if (n < 0n) [base, n] = [inverse(base), -n];
  if (n > 64n) throw new NotRational("radical power too high");
  let out: Radical = single(1n, R.c(R.ONE));
  for (let i = 0n; i < n; i++) out = product(out, base);
  return out;
}

/** The radical value of e with the symbols in env bound to Gaussian rationals. */
export function radical(e: Expr, env: Map<string, R.C>): Radical {
  switch (e.k) {
    case "num":
      return single(1n, R.c(e.v));
    case "sym": {
      const v = env.get(e.name) ?? (e.name === "i" ? R.c(R.ZERO, R.ONE) : null);
      if (!v) throw new NotRational(`unbound symbol ${e.name}`);
      return single(1n, v);
    }
    case "add":
      return e.args.reduce((acc, a) => sum(acc, radical(a, env)), new Map() as Radical);
    case "mul":
      return e.args.reduce((acc, a) => product(acc, radical(a, env)), single(1n, R.c(R.ONE)));
    case "neg":
      return product(single(1n, R.c(R.q(-1n))), radical(e.a, env));
    case "div":
      return product(radical(e.a, env), inverse(radical(e.b, env)));
    case "pow":
      return power(radical(e.a, env), rationalOf(radical(e.b, env), "exponent"));
    case "fn": {
      const args = e.args.map((a) => radical(a, env));
      if (e.name === "sqrt") {
        const x = rationalOf(args[0], "radicand");
        if (!R.cIsReal(x)) throw new NotRational("complex radicand");
        return sqrtOf(x.re);
      }
      return single(1n, exactFunction(e.name, args.map((a) => rationalOf(a, `argument of ${e.name}`))));
    }
    case "pm":
      throw new Error("bug: ± must be expanded before evaluation");
  }
}

/** Whether two radical values are equal (coefficient maps are canonical). */
export function radicalEq(a: Radical, b: Radical): boolean {
  if (a.size !== b.size) return false;
  for (const [k, c] of a) {
    const d = b.get(k);
    if (!d || !R.cEq(c, d)) return false;
  }
  return true;
}
