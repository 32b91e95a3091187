// scripts/chain-diagnostics.ts: equations compared with the gold ones by label, on hand-worked samples.
import { expect, test } from "vitest";
import { generate } from "../../datasets/synthetic/index.ts";
import { diagnose, goldEquations, report } from "../../scripts/chain-diagnostics.ts";

test("goldEquations: the same equations for compact and spelled-out problems, and the generator's solution", () => {
  expect(goldEquations("Start at 7; a+3 b*2 c-5 d/2. Result?")).toEqual(["a:7+3=10.", "b:10*2=20.", "c:20-5=15.", "d:15/2=7.5."]);
  expect(goldEquations("Start at 7; a:add 3; b:double; c:sub 5; d:triple. Result?")).toEqual(["a:7+3=10.", "b:10*2=20.", "c:20-5=15.", "d:15*3=45."]);
  const spec = { task: "chain", steps: 8, labeled: true, count: 20, seed: 7 } as const;
  const long = generate(spec), short = generate({ ...spec, compact: true });
  for (let i = 0; i < long.length; i++) {
    const solution = goldEquations(long[i].problem!).join(" ") + ` \\boxed{${long[i].answer}}`;
    expect(solution).toBe(long[i].solution);
    expect(goldEquations(short[i].problem!)).toEqual(goldEquations(long[i].problem!));
  }
  expect(() => goldEquations("Start at 7; b+3. Result?")).toThrow(/labeled b/);
});

test("diagnose: equations right by label, correct prefix, solved vs lucky, RC summaries", () => {
  const problems = ["Start at 1; a+1 b*2 c-1. Result?"]; // a:1+1=2. b:2*2=4. c:4-1=3.
  const plain = [
    { index: 0, correct: true, completion: "a:1+1=2. b:2*2=4. c:4-1=3. \\boxed{3}" }, // solved
    { index: 0, correct: true, completion: "a:1+1=2. b:2*2=5. c:5-1=4. \\boxed{3}" }, // lucky box, 1 of 3 right
    { index: 0, correct: false, completion: "a:1+1=3. d:9*2=18." }, // none right
  ];
  const d = diagnose(plain, problems);
  expect(d).toMatchObject({ samples: 3, equationsWritten: 8, equationsCorrect: 4, chainLength: 3, correct: 2, solvedThroughEquations: 1 });
  expect(d.meanCorrectPrefix).toBeCloseTo((3 + 1 + 0) / 3);
  expect(d.summaries).toBeUndefined();
  const rc = [{
    index: 0, correct: true, completion: " c:4-1=3. \\boxed{3}",
    turns: [
      { summary: "", reasoning: "a:1+1=2. b:2*2=4." },
      { summary: "b:2*2=4.", reasoning: " c:4-1=3. \\boxed{3}" }, // exact summary
      { summary: "b:2*2=4.", reasoning: " \\boxed{3}" }, // wrong: the previous turn ended at c
    ],
  }];
  const r = diagnose(rc, problems);
  expect(r).toMatchObject({ equationsWritten: 3, equationsCorrect: 3, solvedThroughEquations: 1, summaries: { exact: 1, faithful: 1, total: 2 } });
  // both later turns resume from the gold summary of b (depth 2); only turn 2 then writes c right
  expect([...r.resumes!]).toEqual([[2, { turns: 2, right: 1 }]]);
  expect(report(r)).toContain("resuming from the gold summary of operation 2: next equation right 1 / 2 (50.0%)");
  expect(r.meanCorrectPrefix).toBe(3);
  expect(report(r)).toContain("equations correct: 3 / 3 (100.0%)");
});
