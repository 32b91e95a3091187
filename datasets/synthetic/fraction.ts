/**
 * Exact rationals for the generators: every answer is computed without floating point and
 * printed as `7`, `-9/2` (sign on the numerator, lowest terms), a form the math grader parses.
 */

/** n/d with d > 0 and gcd(|n|, d) = 1. */
export interface Fraction { n: bigint; d: bigint }

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** The fraction n/d in lowest terms; d must not be 0. */
export function frac(n: bigint | number, d: bigint | number = 1n): Fraction {
  let [bn, bd] = [BigInt(n), BigInt(d)];
  if (bd === 0n) throw new Error(`bug: fraction ${bn}/0`);
  if (bd < 0n) [bn, bd] = [-bn, -bd];
  const g = gcd(bn, bd) || 1n;
  return { n: bn / g, d: bd / g };
}

/** Exact + − × ÷ (÷ by zero is a bug: the generators never draw a zero divisor). */
export const add = (a: Fraction, b: Fraction) => frac(a.n * b.d + b.n * a.d, a.d * b.d);
export const sub = (a: Fraction, b: Fraction) => frac(a.n * b.d - b.n * a.d, a.d * b.d);
export const mul = (a: Fraction, b: Fraction) => frac(a.n * b.n, a.d * b.d);
export const div = (a: Fraction, b: Fraction) => frac(a.n * b.d, a.d * b.n);

export const isInteger = (a: Fraction) => a.d === 1n;

/** `7`, `-9/2`. */
export function show(a: Fraction): string {
  return a.d === 1n ? String(a.n) : `${a.n}/${a.d}`;
}

/** `show`, with a fraction in parentheses: `(-9/2)`, as the left operand of a written equation. */
export function showOperand(a: Fraction): string {
  return a.d === 1n ? String(a.n) : `(${show(a)})`;
}

/** |a| as a number, for keeping generated values small. */
export function magnitude(a: Fraction): number {
  return Math.abs(Number(a.n) / Number(a.d));
}
