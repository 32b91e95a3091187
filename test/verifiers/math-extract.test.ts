/** Extraction (policy §1): the spec's own table plus the edge cases of each rule. */
import { describe, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { extractAnswer, extractBoxed, gradeAnswer, mathVerifier } from "../../verifiers/math/index.ts";

describe("policy §1 table", () => {
  const cases: [completion: string, gold: string, correct: boolean, reason?: string][] = [
    ["…so $\\boxed{17}$. Wait, I missed a case: $\\boxed{19}$.", "19", true],
    ["…so $\\boxed{17}$. Wait, I missed a case: $\\boxed{19}$.", "17", false],
    ["Hence \\fbox{$2\\sqrt3$}.", "2\\sqrt{3}", true],
    ["…the answer is $\\frac{2}{7}$, since…", "\\frac27", true],
    ["Each box holds 8, so 5 boxes hold 40 balls.", "40", true],
    ["Trying $k=2$ gives 11 and $k=3$ gives $14$.", "11", false],
    ["…therefore $\\boxed{\\frac{5}{8}$", "\\frac58", false, "no_answer"],
    ["\\boxed{9}}}}", "9", true],
  ];
  test.each(cases)("%j graded against %j → %s", (completion, gold, correct, reason) => {
    const got = gradeAnswer(completion, gold);
    expect(got.correct).toBe(correct);
    if (reason) expect(got.reason).toBe(reason);
  });
});

describe("rule 1: the last box", () => {
  test("nested boxes give the innermost (the last token)", () => expect(extractBoxed("\\boxed{\\boxed{5}}")).toBe("5"));
  test("nested braces are kept", () => expect(extractBoxed("x \\boxed{\\frac{1}{\\sqrt{2}}} y")).toBe("\\frac{1}{\\sqrt{2}}"));
  test("escaped braces do not count", () => expect(extractBoxed("\\boxed{\\{1,2\\}}")).toBe("\\{1,2\\}"));
  test("whitespace before the brace is allowed", () => expect(extractBoxed("\\boxed {42}")).toBe("42"));
  test("an empty last box is no answer, with no fallback", () => expect(extractAnswer("\\boxed{3} then \\boxed{ }")).toBeNull());
  test("a box without a brace is no answer", () => expect(extractAnswer("\\boxed{3} and \\boxed 4")).toBeNull());
  test("\\boxedx is not the box token", () => expect(extractBoxed("\\boxed{1} \\boxedx{2}")).toBe("1"));
});

describe("rule 2: the answer phrase", () => {
  test("the last phrase wins", () => expect(extractAnswer("The answer is 3. Actually the answer is 4.")).toBe("4"));
  test("Final Answer: with bold markers", () => expect(extractAnswer("**Final Answer:** $\\frac{1}{2}$")).toBe("\\frac{1}{2}"));
  test("case-insensitive, rest of line cut at '. '", () => expect(extractAnswer("THE ANSWER IS 12 apples. Done")).toBe("12 apples"));
  test("a math span on the next line", () => expect(extractAnswer("Answer:\n\n\\[x=2\\]")).toBe("x=2"));
  test("answer followed by a delimiter", () => expect(extractAnswer("so the answer $7$ holds")).toBe("7"));
  test("an escaped dollar is not a delimiter", () => expect(extractAnswer("The answer is \\$5.")).toBe("\\$5"));
  test("graded through the phrase", () => expect(gradeAnswer("The final answer is 12 apples.", "12").correct).toBe(true));
});

describe("rule 3: a bare answer", () => {
  test.each([["-5", "-5"], ["\\frac{7}{9}", "\\frac{7}{9}"], ["$(2,3)$", "(2,3)"], ["\\text{Ann}", "\\text{Ann}"], ["42.", "42"]])(
    "%j is the whole answer",
    (completion, want) => expect(extractAnswer(completion)).toBe(want),
  );
  test("a sentence is not a bare answer (rule 4 takes its last number)", () => expect(extractAnswer("I think it is 5")).toBe("5"));
});

describe("rule 3, text gold: a bare word on the last line", () => {
  const cases: [completion: string, gold: string, correct: boolean][] = [
    ["Both terms are odd, so their sum is divisible by 2.\n\nEven", "\\text{even}", true],
    ["Even", "\\text{even}", true],
    ["f(-x) = f(x) for all 3 values checked.\n**Even.**", "\\text{even}", true],
    ["The curve closes on itself after 2 turns.\n$\\text{Ellipse}$", "\\text{ellipse}", true],
    ["Only 3 of the options fit; checking each:\n(C)", "\\text{(C)}", true],
    ["Paul ran 5 km and Sarah 7.\nPaul and Sarah", "\\text{Paul and Sarah}", true],
    ["It is not even.", "\\text{even}", false],
    ["The function is even when n = 2.\n\nOdd", "\\text{even}", false],
    ["Even and odd terms cancel, so after 4 steps the result is odd", "\\text{even}", false],
    ["Even\nSo the answer is odd.", "\\text{even}", false],
    ["\\boxed{\\text{odd}}\nEven", "\\text{even}", false],
    ["Even\nI checked 2 more cases.", "\\text{even}", false],
  ];
  test.each(cases)("%j graded against %j → %s", (completion, gold, correct) => {
    expect(gradeAnswer(completion, gold).correct).toBe(correct);
  });
  test("a numeric gold still takes the last number, not the last word", () => {
    expect(gradeAnswer("We get x = 5.\nDone", "5")).toMatchObject({ correct: true, extracted: "5" });
  });
  test("the phrase form still works", () => expect(gradeAnswer("so the answer is even", "\\text{even}").correct).toBe(true));
});

describe("rule 4: the last value", () => {
  test("a later plain number beats an earlier span", () => expect(extractAnswer("We get $x=3$, so 12 remain")).toBe("12"));
  test("a later span beats an earlier number", () => expect(extractAnswer("12 apples give $\\frac{1}{2}$ each")).toBe("\\frac{1}{2}"));
  test("thousands separators and fractions in plain text", () => expect(extractAnswer("total of 1,234/5 now")).toBe("1,234/5"));
  test("nothing numeric is no answer", () => expect(extractAnswer("I cannot solve this.")).toBeNull());
});

describe("mathVerifier", () => {
  const verify = async (completion: string, row: Row) => await mathVerifier.verify(completion, row, { timeoutMs: 1000 });
  test("gold is row.answer", async () => {
    const got = await verify("so \\boxed{4}", { answer: "4" });
    expect(got).toMatchObject({ reward: 1, reason: "equal_structure", extracted: "4", gold: "4" });
  });
  test("gold falls back to the solution's last box", async () => {
    const got = await verify("\\boxed{0.5}", { solution: "so $\\boxed{\\frac12}$" });
    expect(got).toMatchObject({ reward: 1, reason: "equal_exact", gold: "\\frac12" });
  });
  test("a numeric gold is read as its decimal string", async () => {
    expect(await verify("\\boxed{12}", { answer: 12 as unknown as string })).toMatchObject({ reward: 1, gold: "12" });
  });
  test("a row without a gold cannot be judged", async () => {
    expect((await verify("\\boxed{1}", { problem: "?" })).reward).toBeNull();
  });
  test("a wrong answer earns 0 with its reason", async () => {
    expect(await verify("\\boxed{5}", { answer: "4" })).toMatchObject({ reward: 0, reason: "not_equal" });
  });
  test("no answer earns 0", async () => {
    expect(await verify("no idea", { answer: "4" })).toMatchObject({ reward: 0, reason: "no_answer" });
  });
});
