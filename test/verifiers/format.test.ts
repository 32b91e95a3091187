import { describe, expect, test } from "vitest";
import { checkFormat, FormatConfig, formatVerifier } from "../../verifiers/format.ts";

const check = (completion: string, options: object = {}) => checkFormat(completion, FormatConfig.parse(options));
const verdict = (completion: string, options: object = {}) => {
  const { reward, reason } = check(completion, options);
  return [reward, reason];
};

describe("boxed answers (the default)", () => {
  test("a closed, non-empty box earns 1 and reports the answer", () => {
    expect(check("so x = $\\boxed{\\frac{1}{2}}$.")).toEqual({ reward: 1, reason: "ok", answer: "\\frac{1}{2}" });
  });
  test("no box, an unclosed box and an empty box earn 0", () => {
    const got = ["the answer is 4", "$\\boxed{\\frac{1}{2}$", "\\boxed{ }"].map((c) => verdict(c));
    expect(got).toEqual([[0, "no_boxed"], [0, "no_boxed"], [0, "no_boxed"]]);
  });
});

describe("tags", () => {
  const think = { tags: ["think"] };
  test("<think>…</think> then the box earns 1", () => {
    expect(verdict("<think>2+2</think> so \\boxed{4}", think)).toEqual([1, "ok"]);
  });
  test("a missing, repeated, reversed or unclosed tag earns 0 with the tag named", () => {
    const cases = ["\\boxed{4}", "<think>a</think><think>b</think>\\boxed{4}", "</think>x<think>\\boxed{4}"];
    expect(cases.map((c) => check(c, think))).toEqual([
      { reward: 0, reason: "missing_tag", tag: "think" },
      { reward: 0, reason: "repeated_tag", tag: "think" },
      { reward: 0, reason: "unclosed_tag", tag: "think" },
    ]);
  });
  test("a box inside the reasoning does not count as the answer", () => {
    expect(check("<think>maybe \\boxed{4}</think> done", think)).toEqual({ reward: 0, reason: "answer_before_tag", tag: "think" });
  });
  test("tags must come in the listed order", () => {
    expect(check("<answer>4</answer><think>x</think>", { tags: ["think", "answer"], answer: "answer_tag" }))
      .toEqual({ reward: 0, reason: "tag_order", tag: "answer" });
  });
  test("an <answer> block after <think> satisfies answer_tag, and the answer may sit inside a listed tag", () => {
    const opts = { tags: ["think", "answer"], answer: "answer_tag" };
    expect(verdict("<think>x</think>\n<answer> 4 </answer>", opts)).toEqual([1, "ok"]);
    expect(verdict("<think>x</think><answer>\\boxed{4}</answer>", { tags: ["think", "answer"] })).toEqual([1, "ok"]);
  });
  test("answer_tag with an empty block earns 0", () => {
    expect(verdict("<answer>  </answer>", { answer: "answer_tag" })).toEqual([0, "no_answer_tag"]);
  });
});

describe("pattern", () => {
  test("the whole completion must match, across newlines", () => {
    const opts = { pattern: "<think>.*</think>\\s*\\d+", answer: "none" };
    expect([verdict("<think>a\nb</think>\n42", opts), verdict("<think>a</think> 42 and more", opts)])
      .toEqual([[1, "ok"], [0, "pattern_mismatch"]]);
  });
  test("an invalid regex is refused when the verifier is built", () => {
    expect(() => formatVerifier({ pattern: "(" })).toThrow("not a valid JavaScript regular expression");
  });
});
