import { describe, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { checkCountdown, CountdownConfig, extractCountdownAnswer } from "../../verifiers/countdown.ts";

const row = { numbers: [25, 5, 3, 7], target: 67 };
const defaults = CountdownConfig.parse({});
const judge = (completion: string, r: Row = row, config = defaults) => {
  const { reward, reason } = checkCountdown(completion, r, config);
  return [reward, reason];
};

describe("correct answers", () => {
  test("(25 − 5) × 3 + 7 = 67 in every operator spelling", () => {
    const spellings = [
      "\\boxed{(25 - 5) * 3 + 7}",
      "\\boxed{(25-5) \\times 3 + 7}",
      "\\boxed{\\left(25 - 5\\right) x 3 + 7}",
      "<answer>(25 − 5) × 3 + 7</answer>",
      "\\boxed{$(25 - 5) \\cdot 3 + 7$ = 67}",
    ];
    expect(spellings.length).toBeGreaterThan(0);
    for (const s of spellings) expect(judge(s), s).toEqual([1, "correct"]);
  });
  test("division is exact: 1 / 49 × 49 is 1, where floating point gives 0.9999999999999999", () => {
    expect(1 / 49 * 49).not.toBe(1); // the float evaluation a naive checker would do
    expect(judge("\\boxed{1 / 49 * 49 + 5}", { numbers: [1, 49, 49, 5], target: 6 })).toEqual([1, "correct"]);
  });
  test("precedence: × and ÷ before + and −, left to right", () => {
    // 25 − 5 × 3 − 7 = 3 (not (25 − 5) × 3 − 7 = 53, not 25 − 5 × (3 − 7) = 45)
    expect(checkCountdown("\\boxed{25 - 5 * 3 - 7}", { numbers: [25, 5, 3, 7], target: 3 }, defaults))
      .toMatchObject({ reward: 1, value: "3" });
  });
});

describe("wrong answers and their reasons", () => {
  test("no answer", () => {
    expect(judge("I think it is (25-5)*3+7")).toEqual([0, "no_answer"]);
  });
  test("unparseable: words, unary minus, dangling operators, unbalanced parentheses, decimals", () => {
    const bad = ["\\boxed{twenty}", "\\boxed{-25 + 5 * 3 + 7}", "\\boxed{25 + }", "\\boxed{(25 - 5 * 3 + 7}", "\\boxed{2.5 * 5}"];
    expect(bad.map((b) => judge(b)[1])).toEqual(["unparseable", "unparseable", "unparseable", "unparseable", "unparseable"]);
  });
  test("a number used twice, a number not given, or one left out", () => {
    const cases = ["\\boxed{(25 - 5) * 3 + 7 + 7 - 7}", "\\boxed{(25 - 5) * 3 + 8 - 1}", "\\boxed{25 * 3 - 5 - 3}"];
    expect(cases.map((c) => judge(c))).toEqual([[0, "wrong_numbers"], [0, "wrong_numbers"], [0, "wrong_numbers"]]);
  });
  test("all numbers used once but the value is off reports the value", () => {
    expect(checkCountdown("\\boxed{25 + 5 + 3 + 7}", row, defaults)).toMatchObject({ reward: 0, reason: "wrong_value", value: "40" });
  });
  test("a fraction that is not the target is wrong, shown exactly", () => {
    expect(checkCountdown("\\boxed{(25 + 5) / (3 * 7)}", row, defaults)).toMatchObject({ reason: "wrong_value", value: "10/7" });
  });
  test("division by zero", () => {
    expect(judge("\\boxed{25 / (5 - 5) + 3}", { numbers: [25, 5, 5, 3], target: 1 })).toEqual([0, "division_by_zero"]);
  });
  test("useAll: false accepts a subset of the numbers", () => {
    const subset = CountdownConfig.parse({ useAll: false });
    expect(judge("\\boxed{25 * 3 - 8}", { numbers: [25, 3, 8, 100], target: 67 }, subset)).toEqual([1, "correct"]);
  });
  test("partialCredit: a near miss with the right numbers earns credit by its relative error; a hit 1, other misses 0", () => {
    const partial = CountdownConfig.parse({ partialCredit: 0.5 });
    // 67 is hit; 25+5+3+7 = 40 misses by 27/67; (25+5)/(3*7) = 10/7 misses by (67 − 10/7)/67; 25*5*3*7 = 2625 is far
    expect(judge("\\boxed{(25 - 5) * 3 + 7}", row, partial)).toEqual([1, "correct"]);
    expect(judge("\\boxed{25 + 5 + 3 + 7}", row, partial)[0]).toBeCloseTo(0.5 * (1 - 27 / 67), 12);
    expect(judge("\\boxed{(25 + 5) / (3 * 7)}", row, partial)[0]).toBeCloseTo(0.5 * (10 / 7) / 67, 12);
    expect(judge("\\boxed{25 * 5 * 3 * 7}", row, partial)).toEqual([0, "wrong_value"]);
    expect(judge("\\boxed{25 + 5 + 3 + 8}", row, partial)).toEqual([0, "wrong_numbers"]);
    expect(judge("\\boxed{25 + 5 +}", row, partial)).toEqual([0, "unparseable"]);
    // a target of 0: the error is measured against 1
    expect(judge("\\boxed{2 - 1}", { numbers: [2, 1], target: 0 }, partial)).toEqual([0, "wrong_value"]);
    expect(CountdownConfig.safeParse({ partialCredit: 1 }).success).toBe(false);
  });
  test("a row without numbers or target cannot be judged", () => {
    expect(judge("\\boxed{1 + 2}", { target: 3 })).toEqual([null, "bad_row"]);
  });
});

describe("extraction", () => {
  test("the later of the last box and the last <answer> wins; nested braces are kept", () => {
    expect(extractCountdownAnswer("\\boxed{1+2} then <answer>3+4</answer>")).toBe("3+4");
    expect(extractCountdownAnswer("<answer>3+4</answer> so \\boxed{{1+2}*3}")).toBe("{1+2}*3");
  });
});
