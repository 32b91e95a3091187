// scripts/countdown-diagnostics.ts: reasons and the share of right working equations, hand-counted.
import { expect, test } from "vitest";
import { diagnose, equationHolds } from "../../scripts/countdown-diagnostics.ts";

test("every `a op b=c.` of the working is checked exactly; reasons are counted per sample", () => {
  expect([equationHolds(6, "*", 5, 30), equationHolds(6, "*", 5, 45), equationHolds(7, "/", 2, 3), equationHolds(8, "/", 2, 4), equationHolds(3, "-", 5, -2)]).toEqual([true, false, false, true, true]);
  const d = diagnose([
    { completion: "6*5=30. 30+2=32. \\boxed{6*5+2}", reason: "correct" },
    { completion: "6*5=45. 45+2=53. \\boxed{6*5+2}", reason: "wrong_value" },
    { completion: "8/2=4. 4-9=-5. \\boxed{8/2-9}", reason: "wrong_value" },
    { completion: "\\boxed{1+2}", reason: "wrong_numbers" },
  ]);
  expect(d).toEqual({ samples: 4, reasons: { correct: 1, wrong_value: 2, wrong_numbers: 1 }, equations: 6, equationsRight: 4 });
  // wrong: 6*5=45 and 45+2=53
});
