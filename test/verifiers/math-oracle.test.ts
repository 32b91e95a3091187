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
