/**
 * The countdown checker (TinyZero's task): the row gives `numbers` and a `target`; the completion's
 * answer (last `\boxed{…}` or `<answer>…</answer>`) must be an arithmetic expression over + − × ÷ and
 * parentheses that uses each given number exactly once and equals the target. Evaluated with exact
 * rationals by a small recursive-descent parser: no `eval`, no floating point, no unary operators.
 */
import { z } from "zod";
import type { Row } from "../datasets/row.ts";
import type { Verifier, VerifyResult } from "./types.ts";

export const CountdownConfig = z.strictObject({
  useAll: z.boolean().default(true)
    .describe("Every given number must appear exactly once (TinyZero); false allows using a subset, each at most once."),
  partialCredit: z.number().min(0).lt(1).default(0)
    .describe("Reward for a near miss (0 = TinyZero's 0/1): an expression that uses the numbers as required but misses the target earns partialCredit × max(0, 1 − |value − target| / max(1, |target|)), so 23 for a target of 24 earns nearly partialCredit and 12 half of it. Only a hit earns 1; held-out accuracy still counts hits only."),
  maxAnswerChars: z.int().positive().default(500)
    .describe("Longer answers are `unparseable` without being evaluated, so hostile inputs stay cheap."),
});
export type CountdownConfig = z.infer<typeof CountdownConfig>;

/** An exact rational n/d with d > 0 and gcd(n, d) = 1. */
interface Rational { n: bigint; d: bigint }

const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
};

function rational(n: bigint, d: bigint): Rational {
  if (d === 0n) throw new CountdownError("division_by_zero");
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

const ops: Record<string, (a: Rational, b: Rational) => Rational> = {
  "+": (a, b) => rational(a.n * b.d + b.n * a.d, a.d * b.d),
  "-": (a, b) => rational(a.n * b.d - b.n * a.d, a.d * b.d),
  "*": (a, b) => rational(a.n * b.n, a.d * b.d),
  "/": (a, b) => rational(a.n * b.d, a.d * b.n),
};

class CountdownError extends Error {
  constructor(readonly reason: "unparseable" | "division_by_zero", detail: string = reason) {
    super(detail);
  }
}

type Token = { kind: "num"; value: bigint } | { kind: "op"; op: string } | { kind: "paren"; open: boolean };

/** Spellings accepted for each operator; LaTeX commands first so `\times` is not read as `x`. */
const SYMBOLS: [string, Token][] = [
  ["\\times", { kind: "op", op: "*" }], ["\\cdot", { kind: "op", op: "*" }], ["\\div", { kind: "op", op: "/" }],
  ["\\left(", { kind: "paren", open: true }], ["\\right)", { kind: "paren", open: false }],
  ["+", { kind: "op", op: "+" }], ["-", { kind: "op", op: "-" }], ["\u2212", { kind: "op", op: "-" }],
  ["*", { kind: "op", op: "*" }], ["x", { kind: "op", op: "*" }], ["X", { kind: "op", op: "*" }],
  ["\u00d7", { kind: "op", op: "*" }], ["\u00b7", { kind: "op", op: "*" }],
  ["/", { kind: "op", op: "/" }], ["\u00f7", { kind: "op", op: "/" }],
  ["(", { kind: "paren", open: true }], [")", { kind: "paren", open: false }],
  ["{", { kind: "paren", open: true }], ["}", { kind: "paren", open: false }],
];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/[\s$]/.test(text[i])) { i++; continue; } // math delimiters `$` carry no meaning here
    const digits = /^\d+/.exec(text.slice(i));
    if (digits) {
      tokens.push({ kind: "num", value: BigInt(digits[0]) });
      i += digits[0].length;
      continue;
    }
    const hit = SYMBOLS.find(([s]) => text.startsWith(s, i));
    if (!hit) throw new CountdownError("unparseable", `unexpected ${JSON.stringify(text[i])} at ${i}`);
    tokens.push(hit[1]);
    i += hit[0].length;
  }
  return tokens;
}

/** expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ; factor := num | '(' expr ')' */
function evaluate(tokens: Token[]): { value: Rational; numbers: bigint[] } {
  let pos = 0;
  const numbers: bigint[] = [];
  const peekOp = (set: string) => {
    const t = tokens[pos];
    return t?.kind === "op" && set.includes(t.op) ? t.op : undefined;
  };
  const factor = (): Rational => {
    const t = tokens[pos++];
    if (t?.kind === "num") {
      numbers.push(t.value);
      return rational(t.value, 1n);
    }
    if (t?.kind === "paren" && t.open) {
      const inner = expr();
      const close = tokens[pos++];
      if (close?.kind !== "paren" || close.open) throw new CountdownError("unparseable", "unbalanced parentheses");
      return inner;
    }
    throw new CountdownError("unparseable", t ? `unexpected token at ${pos - 1}` : "expression ends early");
  };
  const chain = (next: () => Rational, set: string) => () => {
    let acc = next();
    for (let op = peekOp(set); op; op = peekOp(set)) {
      pos++;
      acc = ops[op](acc, next());
    }
    return acc;
  };
  const term = chain(factor, "*/");
  const expr = chain(term, "+-");
  const value = expr();
  if (pos !== tokens.length) throw new CountdownError("unparseable", `unexpected token at ${pos}`);
  return { value, numbers };
}

/** The last `\boxed{…}` or `<answer>…</answer>` content, whichever ends later; undefined when none. */
export function extractCountdownAnswer(completion: string): string | undefined {
  let best: { end: number; text: string } | undefined;
  const tag = /<answer>([\s\S]*?)<\/answer>/g;
  for (let m = tag.exec(completion); m; m = tag.exec(completion)) best = { end: m.index + m[0].length, text: m[1] };
  const box = completion.lastIndexOf("\\boxed");
  if (box >= 0) {
    const open = completion.indexOf("{", box);
    let depth = 0;
    for (let i = open; open >= 0 && i < completion.length; i++) {
      if (completion[i] === "{") depth++;
      else if (completion[i] === "}" && --depth === 0) {
        if (!best || i + 1 > best.end) best = { end: i + 1, text: completion.slice(open + 1, i) };
        break;
      }
    }
  }
  return best?.text.trim() || undefined;
}

/** Is `used` the multiset `given` (useAll) or a sub-multiset of it? */
function numbersMatch(used: bigint[], given: number[], useAll: boolean): boolean {
  const left = new Map<string, number>();
  for (const g of given) left.set(String(g), (left.get(String(g)) ?? 0) + 1);
  for (const u of used) {
    const k = String(u);
    if (!left.get(k)) return false;
    left.set(k, left.get(k)! - 1);
  }
  return !useAll || [...left.values()].every((c) => c === 0);
}

const isIntArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x));

/** Checks one completion against `row.numbers` and `row.target`; reward 1 when correct, else 0 (or a near miss's partial credit). */
export function checkCountdown(completion: string, row: Row, config: CountdownConfig): VerifyResult {
  const { numbers, target } = row;
  if (!isIntArray(numbers) || !Number.isSafeInteger(target)) {
    return { reward: null, reason: "bad_row", problem: "row needs numbers: integer[] and target: integer" };
  }
  const answer = extractCountdownAnswer(completion);
  if (answer === undefined) return { reward: 0, reason: "no_answer" };
  // "(25 - 5) * 3 = 60": the claimed value after `=` is ignored, the expression is what counts
  const expression = answer.split("=")[0];
  if (answer.length > config.maxAnswerChars) return { reward: 0, reason: "unparseable", answer, problem: "too long" };
  let result: { value: Rational; numbers: bigint[] };
  try {
    result = evaluate(tokenize(expression));
  } catch (e) {
    if (!(e instanceof CountdownError)) throw e;
    return { reward: 0, reason: e.reason, answer, problem: e.message };
  }
  const value = result.value.d === 1n ? String(result.value.n) : `${result.value.n}/${result.value.d}`;
  if (!numbersMatch(result.numbers, numbers, config.useAll)) return { reward: 0, reason: "wrong_numbers", answer, value };
  const correct = result.value.d === 1n && result.value.n === BigInt(target as number);
  if (correct) return { reward: 1, reason: "correct", answer, value };
  return { reward: config.partialCredit > 0 ? nearMiss(result.value, target as number, config.partialCredit) : 0, reason: "wrong_value", answer, value };
}

/** partialCredit scaled by how close the value came to the target (relative error, floored at 0). */
function nearMiss(value: Rational, target: number, partialCredit: number): number {
  const miss = Math.abs(Number(value.n) / Number(value.d) - target) / Math.max(1, Math.abs(target));
  return partialCredit * Math.max(0, 1 - miss);
}

/** The `countdown` verifier with its options validated. */
export function countdownVerifier(options: unknown = {}): Verifier {
  const config = CountdownConfig.parse(options);
  return { name: "countdown", verify: (completion, row) => checkCountdown(completion, row, config) };
}
