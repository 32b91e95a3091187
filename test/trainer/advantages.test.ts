import { expect, test } from "vitest";
import { dynamicSamplingFilter, groupAdvantages, groupStats, type RewardScale } from "../../trainer/advantages.ts";
import { Rng } from "../../datasets/rng.ts";

const f32 = (xs: number[]) => new Float32Array(xs);

/** An independent reference: groups as arrays, statistics with reduce, float64 throughout. */
function naiveAdvantages(r: number[], G: number, scale: RewardScale, eps: number, allNull: boolean[] = []): number[] {
  const live = (i: number) => !allNull[i];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.map((x) => (x - mean(xs)) ** 2).reduce((a, b) => a + b, 0) / (xs.length - 1)));
  const batchStd = std(r.filter((_, i) => live(i)));
  return r.map((x, i) => {
    if (!live(i)) return 0;
    const g = Math.floor(i / G);
    const group = r.slice(g * G, g * G + G).filter((_, j) => live(g * G + j));
    const centred = x - mean(group);
    if (scale === "none") return centred;
    return centred / ((scale === "group" ? std(group) : batchStd) + eps);
  });
}

test("one right answer in a group of four gets +1.5, the others -0.5", () => {
  // mean 0.25; sample std = sqrt((0.75² + 3 × 0.25²) / 3) = 0.5; eps 1e-4 moves the result by 3e-4
  const adv = groupAdvantages(f32([1, 0, 0, 0]), 4);
  [1.5, -0.5, -0.5, -0.5].forEach((want, i) => expect(adv[i]).toBeCloseTo(want, 3));
  const exact = groupAdvantages(f32([1, 0, 0, 0]), 4, { eps: 0 });
  [1.5, -0.5, -0.5, -0.5].forEach((want, i) => expect(exact[i]).toBeCloseTo(want, 6));
});

test("batch scaling divides by the std of the whole batch but centres on each group's mean", () => {
  // rewards 1 0 0 0 | 1 1 0 0: group means 0.25 and 0.5; batch mean 3/8,
  // batch variance (3 × 0.625² + 5 × 0.375²) / 7 = 1.875 / 7, std 0.5175492
  const adv = groupAdvantages(f32([1, 0, 0, 0, 1, 1, 0, 0]), 4, { scale: "batch", eps: 0 });
  const s = Math.sqrt(1.875 / 7);
  [0.75 / s, -0.25 / s, -0.25 / s, -0.25 / s, 0.5 / s, 0.5 / s, -0.5 / s, -0.5 / s].forEach((want, i) => expect(adv[i]).toBeCloseTo(want, 5));
  expect(adv[0]).toBeCloseTo(1.449138, 5);
});

test("no scaling (Dr. GRPO) only subtracts the group mean", () => {
  const adv = groupAdvantages(f32([1, 0, 0, 0, 2, 1, 0, 1]), 4, { scale: "none" });
  [0.75, -0.25, -0.25, -0.25, 1, 0, -1, 0].forEach((want, i) => expect(adv[i]).toBeCloseTo(want, 6));
});

test("a completion whose verifiers all returned null gets 0 and leaves the group's mean and std", () => {
  // counted rewards 1 0 0: mean 1/3, std sqrt(((2/3)² + 2 (1/3)²) / 2) = sqrt(1/3)
  const adv = groupAdvantages(f32([1, 0, 0, 5]), 4, { eps: 0, allNull: [false, false, false, true] });
  const s = Math.sqrt(1 / 3);
  [(2 / 3) / s, -(1 / 3) / s, -(1 / 3) / s, 0].forEach((want, i) => expect(adv[i]).toBeCloseTo(want, 5));
  expect(adv[0]).toBeCloseTo(1.154701, 5);
});

test("a group of equal rewards gets zero advantages, not NaN", () => {
  const adv = groupAdvantages(f32([1, 1, 1, 1, 0, 0, 0, 0]), 4);
  expect([...adv]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  const noEps = groupAdvantages(f32([1, 1, 1, 1]), 4, { eps: 0, scale: "none" });
  expect([...noEps]).toEqual([0, 0, 0, 0]);
});

test("advantages match the reference implementation on random rewards for every scaling", () => {
  const rng = new Rng(11);
  const G = 5;
  const r = Array.from({ length: 6 * G }, () => Math.round(rng.uniform() * 4) / 4);
  const allNull = r.map(() => rng.uniform() < 0.2);
  const scales: RewardScale[] = ["group", "batch", "none"];
  expect(scales.length).toBe(3);
  for (const scale of scales) {
    for (const nulls of [undefined, allNull]) {
      const got = groupAdvantages(f32(r), G, { scale, allNull: nulls });
      const want = naiveAdvantages(r, G, scale, 1e-4, nulls);
      want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 4));
    }
  }
});

test("group stats follow TRL: mean reward, mean group std, share of flat groups", () => {
  // groups: [1 0 0 0] std 0.5; [1 1 1 1] std 0; [0 1 0 1] std sqrt(4 × 0.25 / 3) = 0.5773503
  const stats = groupStats(f32([1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1]), 4);
  expect(stats.reward).toBeCloseTo(7 / 12, 6);
  expect(stats.reward_std).toBeCloseTo((0.5 + 0 + Math.sqrt(1 / 3)) / 3, 6);
  expect(stats.frac_reward_zero_std).toBeCloseTo(1 / 3, 6);
});

test("group stats leave all-null completions out", () => {
  // the one non-null completion of group 2 makes it flat; reward is the mean of the 5 counted
  const stats = groupStats(f32([1, 0, 9, 9]), 2, [false, false, true, false]);
  expect(stats.reward).toBeCloseTo(10 / 3, 6);
  expect(stats.reward_std).toBeCloseTo(Math.SQRT1_2 / 2, 6);
  expect(stats.frac_reward_zero_std).toBe(0.5);
});

test("dynamic sampling keeps the groups whose rewards differ and counts the dropped", () => {
  const r = f32([1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0.5, 0, 0, 0]);
  expect(dynamicSamplingFilter(r, 4)).toEqual({ keep: [0, 3], dropped: 2 });
  // with its one different completion null, group 3 is flat too
  const allNull = Array.from({ length: 16 }, (_, i) => i === 12);
  expect(dynamicSamplingFilter(r, 4, allNull)).toEqual({ keep: [0], dropped: 3 });
});

test("rewards that do not split into whole groups are refused", () => {
  expect(() => groupAdvantages(f32([1, 0, 0]), 2)).toThrow("3 rewards do not split into groups of G = 2: pass whole groups");
  expect(() => groupAdvantages(f32([1, 0]), 2, { allNull: [true] })).toThrow("allNull has 1 flags for 2 rewards");
});
