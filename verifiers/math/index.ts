/**
 * The math answer verifier (policy: shared/design/math-equivalence.md). Extracts the final
 * answer of a completion, normalizes both sides, and grades by value with a reason code:
 * no_answer, too_long, unparseable, not_equal, equal_structure, equal_exact, equal_numeric, equal_text.
 */
import { z } from "zod";
import type { Row } from "../../datasets/row.ts";
import type { Verifier, VerifyResult } from "../types.ts";
import { compareAnswers, parseCached } from "./equivalence.ts";
import { extractAnswer, extractBoxed } from "./extract.ts";
import { MAX_ANSWER_CHARS, MAX_DEPTH, TooBig, Unparseable } from "./limits.ts";
import { normalize, stripDelimiters } from "./normalize.ts";
import { resetWork } from "./rational.ts";

export { extractAnswer, extractBoxed };

export interface Equivalence {
  equal: boolean;
  reason: string;
}

/** Deepest nesting of `{([` in s (linear; the parser recurses, so this guards it first). */
function nestingDepth(s: string): number {
  let depth = 0, max = 0;
  for (const ch of s) {
    if (ch === "{" || ch === "(" || ch === "[") max = Math.max(max, ++depth);
    else if (ch === "}" || ch === ")" || ch === "]") depth--;
  }
  return max;
}

const TEXT_WRAPPERS = /\\(?:text|textbf|textit|mathrm|textrm|mbox|mathbf|textnormal)\s*\{([^{}]*)\}/g;
/** Comparison key of a text answer (§8): wrappers unwrapped, spaces collapsed, case ignored. */
function textKey(s: string): string {
  let out = stripDelimiters(s), prev;
  do {
    prev = out;
    out = out.replace(TEXT_WRAPPERS, "$1");
  } while (out !== prev);
  return out.replace(/\$/g, "").replace(/\s+/g, " ").trim().replace(/\.$/, "").toLowerCase();
}

/** The gold's text when it is a text answer: a whole `\text{…}` that is not a number. */
function textGold(normalizedGold: string): string | null {
  const m = /^\\text\s*\{([^{}]*)\}$/.exec(normalizedGold);
  return m && !/^\s*-?[\d.]+\s*$/.test(m[1]) ? m[1] : null;
}

/** Whether a gold (possibly boxed) is a text answer: a whole `\text{…}` that is not a number. */
function isTextGold(gold: string): boolean {
  const g = gold.includes("\\boxed") || gold.includes("\\fbox") ? extractBoxed(gold) : gold;
  return g !== null && g.length <= MAX_ANSWER_CHARS && textGold(normalize(g)) !== null;
}

function compareText(answer: string, gold: string): Equivalence {
  const [a, g] = [textKey(answer), textKey(gold)];
  const choice = /^\(?\s*([a-z])\s*\)?$/;
  const [ca, cg] = [choice.exec(a), choice.exec(g)];
  const equal = cg ? ca?.[1] === cg[1] : a === g;
  return { equal, reason: equal ? "equal_text" : "not_equal" };
}

/** Whether answer `a` is equivalent to reference answer `b` (answer vs answer; b's form decides). */
export function isEquivalent(a: string, b: string): Equivalence {
  if (a.length > MAX_ANSWER_CHARS) return { equal: false, reason: "too_long" };
  const gold = b.includes("\\boxed") || b.includes("\\fbox") ? extractBoxed(b) : b;
  if (gold === null || !gold.trim()) return { equal: false, reason: "no_answer" };
  if (gold.length > MAX_ANSWER_CHARS) return { equal: false, reason: "too_long" }; // a reference answer from another sample
  const [na, ng] = [normalize(a), normalize(gold)];
  resetWork();
  if (textGold(ng) !== null) return compareText(a, gold);
  if (!na || nestingDepth(na) > MAX_DEPTH || nestingDepth(ng) > MAX_DEPTH) return { equal: false, reason: "unparseable" };
  try {
    const goldTree = parseCached(ng);
    const verdict = compareAnswers(parseCached(na), goldTree);
    return { equal: verdict !== "not_equal", reason: verdict };
  } catch (err) {
    if (err instanceof Unparseable || err instanceof RangeError) {
      // an unparseable gold still matches an identically spelled text answer
      if (textKey(na) === textKey(ng) && !isParseable(ng)) return { equal: true, reason: "equal_text" };
      return { equal: false, reason: "unparseable" };
    }
    if (err instanceof TooBig) return { equal: false, reason: "not_equal" };
    throw err;
  }
}

function isParseable(s: string): boolean {
  try {
    parseCached(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Extract the final answer of a completion and grade it against a gold answer. `boxedOnly` reads
 * only the last `\boxed{}` (verl's strict box mode), so an unboxed number never counts.
 */
export function gradeAnswer(
  completion: string,
  gold: string,
  boxedOnly = false,
): { correct: boolean; reason: string; extracted: string | null } {
  const extracted = boxedOnly ? extractBoxed(completion) : extractAnswer(completion, () => isTextGold(gold));
  if (extracted === null) return { correct: false, reason: "no_answer", extracted };
  const { equal, reason } = isEquivalent(extracted, gold);
  return { correct: equal, reason, extracted };
}

/** The gold of a row: `answer`, else the last boxed answer of `solution`. */
function goldOf(row: Row): string | null {
  if (typeof row.answer === "number" && Number.isFinite(row.answer)) return String(row.answer);
  if (typeof row.answer === "string" && row.answer.trim()) return row.answer;
  return typeof row.solution === "string" ? extractBoxed(row.solution) : null;
}

export const MathVerifierOptions = z.strictObject({
  boxed_only: z.boolean().default(false)
    .describe("Grade only the last \\boxed{} of a completion; without one the reward is 0 (no_answer). For RL rewards where a truncated completion's last number must not count."),
});

/** The math verifier with options (`{ boxed_only: true }`); a ZodError on an unknown or mistyped option, as formatVerifier. */
export function makeMathVerifier(options: unknown = {}): Verifier {
  const boxedOnly = MathVerifierOptions.parse(options).boxed_only;
  return {
    name: "math",
    verify(completion: string, row: Row): VerifyResult {
      const gold = goldOf(row);
      if (gold === null) return { reward: null, reason: "no_gold", extracted: null, gold: null };
      const { correct, reason, extracted } = gradeAnswer(completion, gold, boxedOnly);
      return { reward: correct ? 1 : 0, reason, extracted, gold };
    },
  };
}

export const mathVerifier: Verifier = makeMathVerifier();
