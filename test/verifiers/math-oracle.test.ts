/**
 * Seeded property checks against independent arithmetic: fractions against their decimal
 * expansions (computed here with BigInt long division), factored against expanded quadratics
 * (coefficients multiplied out here), and bases against their digits.
 */
import { describe, expect, test } from "vitest";
import { isEquivalent } from "../../verifiers/math/index.ts";

/** A tiny seeded LCG, so every run draws the same cases. */
function rng(seed: number): (lo: number, hi: number) => number {
  let s = seed;
  return (lo, hi) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return lo + (s % (hi - lo + 1));
  };
}

/** The exact decimal expansion of p/q (q > 0) if it terminates, else null. */
function decimal(p: number, q: number): string | null {
  let [n, d] = [BigInt(Math.abs(p)), BigInt(q)];
  const sign = p < 0 ? "-" : "";
  let out = `${n / d}.`;
  n %= d;
  for (let i = 0; i < 40 && n; i++) {
    n *= 10n;
    out += `${n / d}`;
    n %= d;
  }
  return n ? null : sign + out.replace(/\.$/, "");
}

describe("fractions against decimal expansions", () => {
  const draw = rng(7);
  const cases = Array.from({ length: 60 }, () => [draw(-500, 500), draw(1, 400)] as const);
  test("there are cases", () => expect(cases.length).toBeGreaterThan(0));
  test.each(cases)("%i/%i", (p, q) => {
    const frac = `\\frac{${p}}{${q}}`;
    const k = 1 + (Math.abs(p) % 7);
    expect(isEquivalent(`\\frac{${k * p}}{${k * q}}`, frac).equal).toBe(true);
    expect(isEquivalent(`\\frac{${p + 1}}{${q}}`, frac).equal).toBe(false);
    const dec = decimal(p, q);
    if (dec !== null) expect(isEquivalent(dec, frac).equal).toBe(true);
    // a rounded expansion never equals a fraction whose expansion does not terminate
    else expect(isEquivalent((p / q).toFixed(6), frac).equal).toBe(false);
  });
});

describe("factored against expanded quadratics", () => {
  const draw = rng(11);
  const cases = Array.from({ length: 40 }, () => [draw(-9, 9), draw(-9, 9), draw(1, 5)] as const);
  const term = (c: number, x: string): string => (c === 0 ? "" : `${c < 0 ? "-" : "+"}${Math.abs(c)}${x}`);
  test.each(cases)("%i, %i, %i", (a, b, c) => {
    const factored = `${c}(x${term(a, "")})(x${term(b, "")})`;
    const expanded = `${c}x^2${term(c * (a + b), "x")}${term(c * a * b, "")}`;
    expect(isEquivalent(expanded, factored).equal).toBe(true);
    expect(isEquivalent(`${expanded}+1`, factored).equal).toBe(false);
  });
});

describe("base subscripts against their digits", () => {
  const draw = rng(13);
  const cases = Array.from({ length: 30 }, () => [draw(2, 9), draw(10, 5000)] as const);
  test.each(cases)("base %i of %i", (base, value) => {
    const digits = value.toString(base);
    const gold = `${digits}_{${base}}`;
    expect(isEquivalent(digits, gold).equal).toBe(true);
    expect(isEquivalent(`${digits}_${base}`, gold).equal).toBe(true);
    if (digits !== String(value)) expect(isEquivalent(String(value), gold).equal).toBe(false);
  });
});

/** n = s²·m with m squarefree, by brute-force trial division (n small enough here). */
function squarefreeBrute(n: number): [number, number] {
  let s = 1;
  for (let d = Math.floor(Math.sqrt(n)); d > 1; d--) if (n % (d * d) === 0) return [d, n / (d * d)];
  return [s, n];
}

describe("square roots against brute-force squarefree parts", () => {
  const draw = rng(17);
  const cases = Array.from({ length: 40 }, () => draw(2, 2_000_000));
  // large radicands with a known square part: squares of primes above ∛(10^12)
  const large: [number, number][] = [[10007, 3], [10009, 7], [99991, 2], [9973, 77]];
  test.each(cases)("√%i", (n) => {
    const [s, m] = squarefreeBrute(n);
    const root = s === 1 ? `\\sqrt{${m}}` : `${s}\\sqrt{${m}}`;
    expect(isEquivalent(root, `\\sqrt{${n}}`)).toEqual({ equal: true, reason: s === 1 ? "equal_structure" : "equal_exact" });
    if (m > 1) expect(isEquivalent(`${s}\\sqrt{${m + 1}}`, `\\sqrt{${n}}`).equal).toBe(false);
  });
  test.each(large)("√(%i² · %i)", (p, m) => {
    expect(isEquivalent(`${p}\\sqrt{${m}}`, `\\sqrt{${p}^2 \\cdot ${m}}`)).toEqual({ equal: true, reason: "equal_exact" });
  });
});
