/**
 * Exact numbers: BigInt rationals and Gaussian rationals (a + bi with a, b rational).
 * Every operation checks the digit budget first, so nothing larger than MAX_DIGITS is built.
 */
import { MAX_DIGITS, TooBig, Undefined } from "./limits.ts";

export interface Q {
  n: bigint; // numerator, carries the sign
  d: bigint; // denominator, > 0, coprime to n
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x);
/**
 * Work spent on big-number gcds and products since the last resetWork(), in digit² units.
 * Each check gets WORK_BUDGET: past it, evaluation throws TooBig (structure-only comparison).
 * Counting work, not wall time, keeps verdicts deterministic.
 */
let work = 0;
const WORK_BUDGET = 1.5e8; // about 150 ms of gcds on one core
export function resetWork(): void {
  work = 0;
}
function charge(a: bigint, b: bigint): void {
  if ((a > -(1n << 64n) && a < 1n << 64n) || (b > -(1n << 64n) && b < 1n << 64n)) return; // small: negligible
  work += (1 + log10Abs(a)) * (1 + log10Abs(b));
  if (work > WORK_BUDGET) throw new TooBig("work budget of one check spent");
}

function gcd(a: bigint, b: bigint): bigint {
  charge(a, b);
  a = abs(a);
  b = abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

/** log10 |x| (0 for 0), exact enough to budget digits before building a number. */
export function log10Abs(x: bigint): number {
  if (x === 0n) return 0;
  const ax = abs(x);
  if (ax < 1n << 52n) return Math.log10(Number(ax));
  return (ax.toString(16).length - 1) * Math.log10(16); // one hex digit is log10(16) decimal digits
}

/** Decimal digits of |x|, estimated from its magnitude. */
const digits = (x: bigint): number => Math.floor(log10Abs(x)) + 1;

function checkSize(n: bigint, d: bigint): void {
  if (digits(n) > MAX_DIGITS || digits(d) > MAX_DIGITS) throw new TooBig("rational over the digit limit");
}

/** A rational already in lowest terms with d > 0, after the size check. */
function checked(n: bigint, d: bigint): Q {
  checkSize(n, d);
  return { n, d };
}

export function q(n: bigint, d: bigint = 1n): Q {
  if (d === 0n) throw new Undefined("division by zero");
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d);
  return g === 1n ? { n, d } : { n: n / g, d: d / g };
}

export const ZERO = q(0n);
export const ONE = q(1n);
export const isZero = (a: Q): boolean => a.n === 0n;
export const isInt = (a: Q): boolean => a.d === 1n;
const eq = (a: Q, b: Q): boolean => a.n === b.n && a.d === b.d;
export const neg = (a: Q): Q => ({ n: -a.n, d: a.d });
/** a + b, reducing by the gcd of the denominators first (Knuth 4.5.1): the gcds stay small. */
export function add(a: Q, b: Q): Q {
  if (a.d === 1n && b.d === 1n) return checked(a.n + b.n, 1n);
  const g = gcd(a.d, b.d);
  if (g === 1n) return checked(a.n * b.d + b.n * a.d, a.d * b.d); // already in lowest terms
  const t = a.n * (b.d / g) + b.n * (a.d / g);
  const g2 = gcd(t, g);
  return checked(t / g2, (a.d / g) * (b.d / g2));
}
const sub = (a: Q, b: Q): Q => add(a, neg(b));
/** a · b, cancelling crosswise first so no gcd of the (larger) products is needed. */
export function mul(a: Q, b: Q): Q {
  const g1 = gcd(a.n, b.d), g2 = gcd(b.n, a.d);
  return checked((a.n / (g1 || 1n)) * (b.n / (g2 || 1n)), (a.d / (g2 || 1n)) * (b.d / (g1 || 1n)));
}
function inv(a: Q): Q {
  if (a.n === 0n) throw new Undefined("division by zero");
  return q(a.d, a.n);
}
const div = (a: Q, b: Q): Q => mul(a, inv(b));

/** a^k for an integer k; refuses results past the digit budget before computing them. */
function powInt(a: Q, k: bigint): Q {
  if (k < 0n) return powInt(inv(a), -k);
  if (k === 0n) return ONE;
  if (abs(a.n) <= 1n && a.d === 1n) return a.n === 0n ? ZERO : q(k % 2n === 0n ? abs(a.n) : a.n);
  const size = Math.max(log10Abs(a.n), log10Abs(a.d));
  if (k > BigInt(MAX_DIGITS * 4) || size * Number(k) > MAX_DIGITS) throw new TooBig("power over the digit limit");
  return { n: a.n ** k, d: a.d ** k }; // powers of coprime n, d stay coprime
}

/** Integer k-th root of x ≥ 0 when exact, else null (Newton's method on BigInt). */
export function exactRoot(x: bigint, k: number): bigint | null {
  if (x < 0n) return null;
  if (x < 2n) return x;
  const K = BigInt(k);
  let r = 1n << BigInt(Math.ceil(x.toString(2).length / k) + 1);
  for (;;) {
    const next = ((K - 1n) * r + x / r ** (K - 1n)) / K;
    if (next >= r) break;
    r = next;
  }
  return r ** K === x ? r : null;
}

export function toNumber(a: Q): number {
  const n = Number(a.n), d = Number(a.d);
  if (Number.isFinite(n) && Number.isFinite(d)) return n / d;
  // scale both to a safe range: keep the leading ~17 digits of each
  const shift = Math.max(digits(a.n), digits(a.d)) - 300;
  const s = 10n ** BigInt(Math.max(shift, 0));
  return Number(a.n / s) / Number(a.d / s);
}

/** A Gaussian rational re + im·i. */
export interface C {
  re: Q;
  im: Q;
}
export const c = (re: Q, im: Q = ZERO): C => ({ re, im });
export const cIsReal = (a: C): boolean => isZero(a.im);
export const cEq = (a: C, b: C): boolean => eq(a.re, b.re) && eq(a.im, b.im);
export const cAdd = (a: C, b: C): C => c(add(a.re, b.re), add(a.im, b.im));
export const cNeg = (a: C): C => c(neg(a.re), neg(a.im));
export const cMul = (a: C, b: C): C =>
  c(sub(mul(a.re, b.re), mul(a.im, b.im)), add(mul(a.re, b.im), mul(a.im, b.re)));
export function cInv(a: C): C {
  if (cIsReal(a)) return c(inv(a.re));
  const norm = add(mul(a.re, a.re), mul(a.im, a.im));
  return c(div(a.re, norm), neg(div(a.im, norm)));
}
export function cPowInt(a: C, k: bigint): C {
  if (cIsReal(a)) return c(powInt(a.re, k));
  if (k < 0n) return cPowInt(cInv(a), -k);
  if (k > 4096n) throw new TooBig("complex power over the limit");
  let result = c(ONE), base = a;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = cMul(result, base);
    if (e > 1n) base = cMul(base, base);
  }
  return result;
}
