/**
 * Hostile and oversized inputs (policy §11) return a verdict, never hang or throw. The only
 * timing check is a generous sanity bound; speed itself belongs to `npm run bench`.
 */
import { expect, test } from "vitest";
import { extractAnswer, gradeAnswer, isEquivalent } from "../../verifiers/math/index.ts";

const SANITY_MS = 1000;

function timed<T>(f: () => T): T {
  const start = performance.now();
  const out = f();
  expect(performance.now() - start).toBeLessThan(SANITY_MS);
  return out;
}

const HOSTILE: [name: string, answer: string, gold: string, reason: string][] = [
  ["a power tower", "9^{9^{9^9}}", "9", "not_equal"],
  ["the same power tower", "9^{9^{9^{9}}}", "9^{9^{9^9}}", "equal_structure"],
  ["a huge factorial", "100000!", "1", "not_equal"],
  ["a huge binomial", "\\binom{10^{9}}{5000}", "1", "not_equal"],
  ["a huge exponent on a variable", "x^{10^{100}}", "x", "not_equal"],
  ["a deep root chain", "\\sqrt{".repeat(60) + "2" + "}".repeat(60), "2", "not_equal"],
  ["nesting past the limit", "{".repeat(150) + "1" + "}".repeat(150), "1", "unparseable"],
  ["a long product", "2".repeat(999), "1", "not_equal"],
  ["too long", "1+".repeat(600) + "1", "601", "too_long"],
  ["many ± signs", "1\\pm".repeat(40) + "1", "1", "unparseable"],
  ["a tiny number", "10^{-9999}", "0", "not_equal"],
  ["a number past the digit limit", "10^{-20000}", "0", "not_equal"],
  ["a macro definition", "\\newcommand{\\x}{5}\\x", "5", "unparseable"],
  ["an input command", "\\input{/etc/passwd}", "5", "unparseable"],
  ["a code construct", "constructor.constructor('return 1')()", "1", "unparseable"],
  ["a prototype key", "__proto__", "1", "unparseable"],
  ["a limit", "\\lim_{x\\to0} x", "0", "unparseable"],
  ["an integral", "\\int_0^1 x dx", "\\frac12", "unparseable"],
  ["a long list", Array(400).fill("1").join(","), "1", "not_equal"],
  ["many large prime radicands", Array(50).fill("\\sqrt{999999999989}").join("+"), "1", "not_equal"],
  ["a long run of spaces", "1" + " ".repeat(990) + "x", "1", "not_equal"],
  ["many list words", "1 and ".repeat(160), "1", "not_equal"],
  ["many huge coprime fractions", Array(12).fill("\\frac{a^{4000}}{b^{4000}}").join("+"), "1", "not_equal"],
  ["high powers of a variable", Array(30).fill("x^{9999}").join("+"), "x", "not_equal"],
  ["huge rational powers", Array(25).fill("(\\frac{1234567}{9876543})^{1000}").join("+"), "1", "not_equal"],
  ["a long repeating decimal", "0.\\overline{" + "9".repeat(900) + "}", "1", "equal_structure"],
];

test.each(HOSTILE)("%s returns its verdict within the bound", (_name, answer, gold, reason) => {
  expect(timed(() => isEquivalent(answer, gold)).reason).toBe(reason);
});

test("a huge reference answer (maj@k voting) is too long, not slow", () => {
  expect(timed(() => isEquivalent("5", "5 ".repeat(500_000))).reason).toBe("too_long");
});

test("a 1 MB completion is scanned in linear time", () => {
  const text = "word 12 $x$ ".repeat(90_000) + "so \\boxed{7}";
  expect(timed(() => gradeAnswer(text, "7")).correct).toBe(true);
});

test("100 000 boxes: the last one counts", () => {
  const text = "\\boxed{1}".repeat(100_000) + "\\boxed{2}";
  expect(timed(() => extractAnswer(text))).toBe("2");
});

test("100 000 nested braces in a box never close: no answer", () => {
  const text = "\\boxed{" + "{".repeat(100_000);
  expect(timed(() => gradeAnswer(text, "1")).reason).toBe("no_answer");
});

test("100 000 nested braces that do close are too long", () => {
  const text = "\\boxed{" + "{".repeat(100_000) + "1" + "}".repeat(100_001);
  expect(timed(() => gradeAnswer(text, "1")).reason).toBe("too_long");
});

test("unclosed math delimiters everywhere do not slow extraction", () => {
  const text = "\\( \\[ \\$ ".repeat(100_000) + "$ the end";
  expect(timed(() => extractAnswer(text))).toBeNull();
});

test("many answer phrases: the last one counts", () => {
  const text = "the answer is 1. ".repeat(50_000) + "the answer is 2";
  expect(timed(() => extractAnswer(text))).toBe("2");
});
