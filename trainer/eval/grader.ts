/**
 * How a held-out sample is judged correct, shared by `rlvr eval` and the periodic evaluation of
 * `rlvr pretrain` / `rlvr train`. `math` grades in process against the row's gold answer; any other
 * verifier (countdown, code, a user module) goes through the registry with its crash isolation and
 * time limit, and only a full reward (1) counts as correct: a partial or null reward is a miss.
 */
import type { Row } from "../../datasets/row.ts";
import { extractBoxed, gradeAnswer } from "../../verifiers/math/index.ts";
import { checkedVerify, loadVerifier } from "../../verifiers/registry.ts";

export interface Verdict {
  correct: boolean;
  /** The verifier's reason code (`equal_exact`, `no_answer`, `tests_failed`, …). */
  reason: string;
  /** The final answer read from the completion, used for majority voting; null: no vote (e.g. code). */
  extracted: string | null;
}

export interface Grader {
  /** The verifier's name as given (`math`, `countdown`, `code`, or a module path). */
  name: string;
  grade(completion: string, row: Row): Promise<Verdict>;
  close(): Promise<void>;
}

/** The gold answer: `answer`, else the last boxed answer of `solution`. */
export function goldAnswer(row: Row): string | null {
  if (row.answer !== undefined && row.answer !== null && String(row.answer).trim()) return String(row.answer);
  return typeof row.solution === "string" ? extractBoxed(row.solution) : null;
}

function gradeMath(completion: string, row: Row): Verdict {
  const gold = goldAnswer(row);
  return gold === null ? { correct: false, reason: "no_gold", extracted: null } : gradeAnswer(completion, gold);
}

/** The in-process math grader (no processes to close). */
export function mathGrader(): Grader {
  return { name: "math", grade: async (completion, row) => gradeMath(completion, row), close: async () => {} };
}

/** The grader of verifier `name`; close it when done (a worker-backed verifier holds processes). */
export async function loadGrader(name = "math"): Promise<Grader> {
  if (name === "math") return mathGrader();
  const loaded = await loadVerifier(name);
  return {
    name,
    grade: async (completion, row) => {
      const result = await checkedVerify(loaded, { completion, row });
      // the verifier's own reading of the answer where it gives one (countdown's `answer`), else the last \boxed{}
      const extracted = typeof result.answer === "string" ? result.answer : extractBoxed(completion);
      return { correct: result.reward === 1, reason: result.reason, extracted };
    },
    close: () => loaded.close(),
  };
}
