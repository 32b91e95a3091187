// Every generated answer is judged correct by the project's own verifiers against the row's solution:
// the math grader for arith/linear/chain, the countdown checker, and the sandboxed code verifier.
import { describe, expect, test } from "vitest";
import { generate } from "../../../datasets/synthetic/index.ts";
import { codeVerifier } from "../../../verifiers/code/index.ts";
import { countdownVerifier } from "../../../verifiers/countdown.ts";
import { gradeAnswer, mathVerifier } from "../../../verifiers/math/index.ts";

const ctx = { timeoutMs: 60_000 };

describe.each(["arith", "linear", "chain"] as const)("%s", (task) => {
  test.each([1, 2, 3, 4, 5])("level %i: the solution's boxed answer grades equal to the answer", (level) => {
    const rows = generate({ task, level, count: 300, seed: 11 });
    expect(rows).toHaveLength(300);
    for (const row of rows) {
      const verdict = gradeAnswer(row.solution!, row.answer!);
      expect(verdict, `${row.unique_id}: ${row.solution}`).toMatchObject({ correct: true });
      // the boxed answer is spelled exactly as `answer`, so no grader leniency is relied on
      expect(verdict.extracted).toBe(row.answer);
    }
  });
});

test("the math verifier rewards the solution and not a wrong answer", () => {
  const rows = generate({ task: "arith", level: 4, count: 50 });
  expect(rows).toHaveLength(50);
  for (const row of rows) {
    expect(mathVerifier.verify(row.solution!, row, ctx)).toMatchObject({ reward: 1 });
    expect(mathVerifier.verify(`\\boxed{${row.answer}+1}`, row, ctx)).toMatchObject({ reward: 0 });
  }
});

test.each([1, 2, 3, 4, 5])("countdown level %i: the countdown verifier accepts every solution", (level) => {
  const verifier = countdownVerifier();
  const rows = generate({ task: "countdown", level, count: 300, seed: 12 });
  expect(rows).toHaveLength(300);
  for (const row of rows) {
    expect(verifier.verify(row.solution!, row, ctx), `${row.unique_id}: ${row.problem} ${row.solution}`).toMatchObject({ reward: 1 });
    expect(verifier.verify(`\\boxed{${row.answer}}`, row, ctx)).toMatchObject({ reward: 1 });
  }
});

test("countdown: a solution for other numbers is rejected", () => {
  const verifier = countdownVerifier();
  const [a, b] = generate({ task: "countdown", level: 3, count: 2 });
  expect(verifier.verify(b.solution!, a, ctx)).toMatchObject({ reward: 0 });
});

describe.each(["python", "javascript"] as const)("program in %s", (language) => {
  // two rows per level: every level's families reach the sandbox
  const rows = [1, 2, 3, 4, 5].flatMap((level) => generate({ task: "program", language, level, count: 2, seed: 13 }));

  test("the code verifier passes each reference solution", async () => {
    expect(rows).toHaveLength(10);
    const results = await Promise.all(rows.map((row) => codeVerifier.verify(row.solution!, row, ctx)));
    results.forEach((r, i) => expect(r, `${rows[i].unique_id}: ${rows[i].solution}`).toMatchObject({ reward: 1, reason: "pass" }));
  });

  test("the tests reject a function that returns the wrong value", async () => {
    const row = rows[4];
    const wrong = language === "python" ? "```python\ndef f(*a):\n    return 0\n```" : "```javascript\nfunction f() { return 0; }\n```";
    expect(await codeVerifier.verify(wrong, row, ctx)).toMatchObject({ reward: 0 });
  });
});
