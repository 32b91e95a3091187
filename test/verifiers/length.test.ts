import { expect, test } from "vitest";
import { checkOverlong, OverlongConfig, overlongPenalty } from "../../verifiers/length.ts";

test("the penalty is 0 up to L − B, ramps linearly to −1 at L, and stays −1 beyond", () => {
  // L = 100, B = 20: ramp starts after 80; at 85 → (80 − 85)/20 = −0.25; at 90 → −0.5; at 100 → −1
  const lens = [0, 80, 81, 85, 90, 100, 101, 1000];
  const want = [0, 0, -0.05, -0.25, -0.5, -1, -1, -1];
  expect(lens.length).toBe(want.length);
  lens.forEach((len, i) => expect(overlongPenalty(len, 100, 20), `len ${len}`).toBeCloseTo(want[i], 12));
});

test("L comes from the sampler's max tokens and B defaults to L/5 (DAPO's 4096 of 20480)", () => {
  // L = 20480, B = 4096: ramp from 16384; 18432 is halfway → −0.5
  const r = checkOverlong({ timeoutMs: 1, completionTokens: 18432, maxCompletionTokens: 20480 }, OverlongConfig.parse({}));
  expect(r).toEqual({ reward: -0.5, reason: "soft_penalty", tokens: 18432, maxTokens: 20480, bufferTokens: 4096 });
});

test("configured L and B win over the context", () => {
  const config = OverlongConfig.parse({ maxTokens: 10, bufferTokens: 4 });
  const r = checkOverlong({ timeoutMs: 1, completionTokens: 9, maxCompletionTokens: 1000 }, config);
  expect([r.reward, r.reason]).toEqual([-0.75, "soft_penalty"]);
});

test("reasons: within_limit, over_limit; null when the length or the maximum is unknown", () => {
  const config = OverlongConfig.parse({ bufferTokens: 4 });
  const got = [
    checkOverlong({ timeoutMs: 1, completionTokens: 6, maxCompletionTokens: 10 }, config),
    checkOverlong({ timeoutMs: 1, completionTokens: 11, maxCompletionTokens: 10 }, config),
    checkOverlong({ timeoutMs: 1, maxCompletionTokens: 10 }, config),
    checkOverlong({ timeoutMs: 1, completionTokens: 6 }, config),
  ].map((r) => [r.reward, r.reason]);
  expect(got).toEqual([[0, "within_limit"], [-1, "over_limit"], [null, "no_length"], [null, "no_max_length"]]);
});

test("a buffer wider than the maximum is reported, not applied", () => {
  const r = checkOverlong({ timeoutMs: 1, completionTokens: 6, maxCompletionTokens: 10 }, OverlongConfig.parse({ bufferTokens: 20 }));
  expect(r).toEqual({ reward: null, reason: "bad_config", problem: "bufferTokens 20 > maxTokens 10" });
});
