import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { GrpoConfig, grpoLoss, LOSS_TYPES, maskTruncated, stopGradient, type GrpoInputs, type LossType } from "../../trainer/grpo.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

// The tiny example: 2 sequences × 3 tokens, the last token of sequence 1 is padding.
// Ratios ρ = π_θ/π_old are chosen to land on both sides of the clip range [0.8, 1.2]:
// sequence 0 (A = +1): ρ = 1.5 (clipped high), 1.1, 0.9; sequence 1 (A = −1): ρ = 0.5 (clipped
// low), 1.6 (above the range but A < 0, so min picks the unclipped ρ·A), 3.0 (masked out).
const OLD = [[-1, -2, -0.5], [-1.5, -0.7, -2.2]];
const RHO = [[1.5, 1.1, 0.9], [0.5, 1.6, 3.0]];
const LOGP = OLD.map((row, b) => row.map((o, t) => o + Math.log(RHO[b][t])));
const REF = [[-1.2, -1.9, -0.3], [-1.0, -0.9, -5.0]];
const ENT = [[0.8, 1.2, 0.5], [2.0, 0.1, 9.0]];
const MASK = [[1, 1, 1], [1, 1, 0]];
const ADV = [1, -1];

interface Example { logp: number[][]; old: number[][]; ref?: number[][]; ent?: number[][]; mask: number[][]; adv: number[] }
const EXAMPLE: Example = { logp: LOGP, old: OLD, mask: MASK, adv: ADV };

const cfg = (over: Record<string, unknown> = {}) => GrpoConfig.parse({ max_completion_length: 4, ...over });

/** An independent plain-JS loss: ordinary loops over sequences and tokens, float64. */
function naiveLoss(x: Example, c: GrpoConfig, activeTokens?: number) {
  const B = x.logp.length;
  const L = x.logp[0].length;
  const eLow = c.epsilon;
  const eHigh = c.epsilon_high ?? c.epsilon;
  const ell: number[][] = [];
  let low = 0, high = 0, counted = 0, klSum = 0, entSum = 0, active = 0;
  for (let b = 0; b < B; b++) {
    let logSum = 0, n = 0;
    for (let t = 0; t < L; t++) if (x.mask[b][t]) { logSum += x.logp[b][t] - x.old[b][t]; n++; }
    const seqRatio = Math.exp(logSum / Math.max(n, 1));
    const A = x.adv[b];
    const row: number[] = [];
    for (let t = 0; t < L; t++) {
      const rho = c.importance_sampling_level === "token" ? Math.exp(x.logp[b][t] - x.old[b][t]) : seqRatio;
      const clipped = Math.min(Math.max(rho, 1 - eLow), 1 + eHigh);
      let l = -Math.min(rho * A, clipped * A);
      if (x.ref) {
        const d = x.ref[b][t] - x.logp[b][t];
        const kl = c.kl_estimator === "k1" ? -d : c.kl_estimator === "k2" ? (d * d) / 2 : Math.exp(d) - d - 1;
        l += c.beta * kl;
        if (x.mask[b][t]) klSum += kl;
      }
      if (x.ent) {
        l -= c.entropy_coef * x.ent[b][t];
        if (x.mask[b][t]) entSum += x.ent[b][t];
      }
      row.push(l);
      if (x.mask[b][t]) active++;
      if (c.importance_sampling_level === "token" && x.mask[b][t]) {
        counted++;
        if (rho < 1 - eLow && A < 0) low++;
        if (rho > 1 + eHigh && A > 0) high++;
      }
    }
    if (c.importance_sampling_level === "sequence" && n > 0) {
      counted++;
      if (seqRatio < 1 - eLow && A < 0) low++;
      if (seqRatio > 1 + eHigh && A > 0) high++;
    }
    ell.push(row);
  }
  let total = 0, perSeq = 0;
  for (let b = 0; b < B; b++) {
    let s = 0, n = 0;
    for (let t = 0; t < L; t++) { s += ell[b][t] * x.mask[b][t]; n += x.mask[b][t]; }
    total += s;
    perSeq += s / Math.max(n, 1);
  }
  const loss: Record<LossType, number> = {
    grpo: perSeq / B,
    bnpo: total / Math.max(active, 1),
    dr_grpo: total / (B * c.max_completion_length),
    dapo: total / Math.max(activeTokens ?? active, 1),
  };
  return { loss: loss[c.loss_type], low: low / counted, high: high / counted, region: (low + high) / counted, kl: klSum / active, entropy: entSum / active };
}

function tensors(x: Example): GrpoInputs {
  return {
    logp: tf.tensor2d(x.logp),
    oldLogp: tf.tensor2d(x.old),
    refLogp: x.ref ? tf.tensor2d(x.ref) : undefined,
    entropy: x.ent ? tf.tensor2d(x.ent) : undefined,
    mask: tf.tensor2d(x.mask),
    advantages: tf.tensor1d(x.adv),
  };
}

function disposeInputs(x: GrpoInputs): void {
  tf.dispose([x.logp, x.oldLogp, x.refLogp, x.entropy, x.mask, x.advantages].filter((t) => t !== undefined) as tf.Tensor[]);
}

/** Loss value and metrics of grpoLoss on the example, tensors freed. */
function run(x: Example, c: GrpoConfig, activeTokensInStep?: number) {
  const inputs = tensors(x);
  const { loss, metrics } = grpoLoss(inputs, c, { activeTokensInStep });
  const value = loss.dataSync()[0];
  loss.dispose();
  disposeInputs(inputs);
  return { value, metrics };
}

test("each loss type matches its hand-worked value on the tiny example", () => {
  // token losses: seq 0 (A = +1): −min(1.5, 1.2) = −1.2, −1.1, −0.9 → sum −3.2 over 3 tokens;
  // seq 1 (A = −1): −min(−0.5, −0.8) = 0.8, −min(−1.6, −1.2) = 1.6 → sum 2.4 over 2 tokens
  const want: Record<LossType, number> = {
    grpo: (-3.2 / 3 + 2.4 / 2) / 2, // 1/15
    bnpo: (-3.2 + 2.4) / 5, // −0.16
    dr_grpo: (-3.2 + 2.4) / (2 * 4), // L = max_completion_length = 4: −0.1
    dapo: (-3.2 + 2.4) / 5, // no step total given: this micro-batch's 5 active tokens
  };
  expect(LOSS_TYPES.length).toBe(4);
  for (const loss_type of LOSS_TYPES) {
    const c = cfg({ loss_type });
    const got = run(EXAMPLE, c).value;
    expect(got).toBeCloseTo(want[loss_type], 5);
    expect(got).toBeCloseTo(naiveLoss(EXAMPLE, c).loss, 5);
  }
});

test("dapo divides by the active tokens of the whole step when given", () => {
  // two micro-batches of 5 active tokens each: −0.8 / 10
  expect(run(EXAMPLE, cfg({ loss_type: "dapo" }), 10).value).toBeCloseTo(-0.08, 5);
});

test("clip metrics count low clips with A < 0 and high clips with A > 0 over active tokens", () => {
  // ρ = 0.5 with A = −1 is low-clipped, ρ = 1.5 with A = +1 high-clipped; ρ = 1.6 with A = −1 is
  // not (the unclipped side wins); ρ = 3.0 is padding. 5 active tokens.
  const { metrics } = run(EXAMPLE, cfg());
  expect(metrics["clip_ratio/low_mean"]).toBeCloseTo(0.2, 6);
  expect(metrics["clip_ratio/high_mean"]).toBeCloseTo(0.2, 6);
  expect(metrics["clip_ratio/region_mean"]).toBeCloseTo(0.4, 6);
  expect(metrics.kl).toBeUndefined();
  expect(metrics.entropy).toBeUndefined();
});

test("clip-higher raises only the upper bound", () => {
  // ε_high 0.28: the first token of seq 0 now loses −1.28 and seq 1 keeps its 0.8 (a swapped
  // range [0.72, 1.2] would give −1.2 and 0.72, the same bnpo: grpo's per-sequence means tell them
  // apart): grpo = (−3.28 / 3 + 2.4 / 2) / 2 = 0.0533333
  const c = cfg({ loss_type: "grpo", epsilon_high: 0.28 });
  const { value, metrics } = run(EXAMPLE, c);
  expect(value).toBeCloseTo(0.0533333, 5);
  expect(value).toBeCloseTo(naiveLoss(EXAMPLE, c).loss, 5);
  expect(metrics["clip_ratio/high_mean"]).toBeCloseTo(0.2, 6); // 1.5 > 1.28 still
  expect(metrics["clip_ratio/low_mean"]).toBeCloseTo(0.2, 6);
});

test("each KL estimator adds β times its value and reports the masked mean", () => {
  // first token: d = log π_ref − log π_θ = −1.2 − (−1 + ln 1.5) = −0.6054651;
  // k1 = 0.6054651, k2 = d²/2 = 0.1832940, k3 = e^d − d − 1 = 0.1512856
  const x = { ...EXAMPLE, ref: REF };
  const first = { logp: [[LOGP[0][0]]], old: [[OLD[0][0]]], ref: [[REF[0][0]]], mask: [[1]], adv: [0] };
  const firstKl = { k1: 0.6054651, k2: 0.183294, k3: 0.1512856 };
  for (const kl_estimator of ["k1", "k2", "k3"] as const) {
    // A = 0 leaves only the KL term: the loss of one token is β·KL
    expect(run(first, cfg({ beta: 1, kl_estimator })).value).toBeCloseTo(firstKl[kl_estimator], 5);
    for (const loss_type of LOSS_TYPES) {
      const c = cfg({ beta: 0.1, kl_estimator, loss_type });
      const want = naiveLoss(x, c);
      const got = run(x, c);
      expect(got.value).toBeCloseTo(want.loss, 5);
      expect(got.metrics.kl).toBeCloseTo(want.kl, 5);
    }
  }
});

test("a reference with beta 0 is reported as kl but leaves the loss alone", () => {
  const c = cfg({ loss_type: "bnpo" });
  const got = run({ ...EXAMPLE, ref: REF }, c);
  expect(got.value).toBeCloseTo(-0.16, 5);
  expect(got.metrics.kl).toBeCloseTo(naiveLoss({ ...EXAMPLE, ref: REF }, cfg({ kl_estimator: "k3" })).kl, 5);
});

test("the sequence-level ratio (GSPO) is the exp of the mean active log-ratio", () => {
  // seq 0: s = (1.5 · 1.1 · 0.9)^(1/3) = 1.1408857, inside [0.8, 1.2], ℓ = −1.1408857 per token;
  // seq 1: s = (0.5 · 1.6)^(1/2) = 0.8944272 (padding left out), ℓ = 0.8944272
  const c = cfg({ loss_type: "grpo", importance_sampling_level: "sequence" });
  const got = run(EXAMPLE, c);
  expect(got.value).toBeCloseTo((-1.1408857 + 0.8944272) / 2, 5);
  expect(got.metrics["clip_ratio/region_mean"]).toBe(0);
  for (const loss_type of LOSS_TYPES) {
    const each = cfg({ loss_type, importance_sampling_level: "sequence" });
    expect(run(EXAMPLE, each).value).toBeCloseTo(naiveLoss(EXAMPLE, each).loss, 5);
  }
});

test("GSPO clips whole sequences and counts them per sequence", () => {
  // ε = 0.1: seq 0's 1.1408857 > 1.1 with A > 0 → −1.1; seq 1's 0.8944272 < 0.9 with A < 0 → 0.9
  const c = cfg({ loss_type: "bnpo", importance_sampling_level: "sequence", epsilon: 0.1 });
  const got = run(EXAMPLE, c);
  expect(got.value).toBeCloseTo((3 * -1.1 + 2 * 0.9) / 5, 5);
  expect(got.metrics["clip_ratio/low_mean"]).toBeCloseTo(0.5, 6);
  expect(got.metrics["clip_ratio/high_mean"]).toBeCloseTo(0.5, 6);
  expect(got.metrics["clip_ratio/region_mean"]).toBeCloseTo(1, 6);
  const want = naiveLoss(EXAMPLE, c);
  expect([want.loss, want.low, want.high]).toEqual([expect.closeTo(got.value, 5), 0.5, 0.5]);
});

test("GSPO's clip metrics leave out sequences with no active token", () => {
  // ε = 0.1, seq 1 truncated and masked out: of the one sequence left, seq 0 is high-clipped
  const inputs = { ...tensors(EXAMPLE), truncated: [false, true] };
  const c = cfg({ importance_sampling_level: "sequence", epsilon: 0.1, mask_truncated_completions: true });
  const { loss, metrics } = grpoLoss(inputs, c);
  expect(loss.dataSync()[0]).toBeCloseTo(-1.1, 5);
  expect(metrics["clip_ratio/high_mean"]).toBe(1);
  expect(metrics["clip_ratio/low_mean"]).toBe(0);
  loss.dispose();
  disposeInputs(inputs);
});

test("the entropy bonus subtracts entropy_coef times the aggregated entropy", () => {
  // bnpo: −0.16 − 0.01 · (0.8 + 1.2 + 0.5 + 2.0 + 0.1) / 5 = −0.16 − 0.0092; padding's 9.0 ignored
  const x = { ...EXAMPLE, ent: ENT };
  const got = run(x, cfg({ loss_type: "bnpo", entropy_coef: 0.01 }));
  expect(got.value).toBeCloseTo(-0.1692, 5);
  expect(got.metrics.entropy).toBeCloseTo(0.92, 5);
  for (const loss_type of LOSS_TYPES) {
    const c = cfg({ loss_type, entropy_coef: 0.05, beta: 0.04 });
    expect(run({ ...x, ref: REF }, c).value).toBeCloseTo(naiveLoss({ ...x, ref: REF }, c).loss, 5);
  }
});

/** Analytic gradient of the loss w.r.t. logp vs central differences of the same function. */
function checkGradient(x: Example, c: GrpoConfig): void {
  const inputs = tensors(x);
  const f = (lp: tf.Tensor) => grpoLoss({ ...inputs, logp: lp as tf.Tensor2D }, c).loss;
  const analytic = tf.tidy(() => tf.grad(f)(inputs.logp).dataSync());
  const lp = inputs.logp.dataSync();
  const h = 1e-2; // float32: a smaller step drowns in rounding error
  const at = (i: number, d: number) =>
    tf.tidy(() => { const y = lp.slice(); y[i] += d; return f(tf.tensor(y, inputs.logp.shape)).dataSync()[0]; });
  let nonZero = 0;
  lp.forEach((_, i) => {
    const numeric = (at(i, h) - at(i, -h)) / (2 * h);
    expect(analytic[i], `${c.loss_type}/${c.importance_sampling_level} token ${i}`).toBeCloseTo(numeric, 3);
    if (Math.abs(analytic[i]) > 1e-3) nonZero++;
  });
  expect(analytic[5]).toBe(0); // the padding token
  expect(nonZero).toBeGreaterThan(2);
  disposeInputs(inputs);
}

test("the gradient of every loss type and ratio level matches central differences", () => {
  const x = { ...EXAMPLE, ref: REF, ent: ENT };
  for (const loss_type of LOSS_TYPES) {
    for (const importance_sampling_level of ["token", "sequence"] as const) {
      checkGradient(x, cfg({ loss_type, importance_sampling_level, beta: 0.1, entropy_coef: 0.01 }));
      checkGradient(EXAMPLE, cfg({ loss_type, importance_sampling_level, epsilon_high: 0.28 }));
    }
  }
});

test("the gradient with each KL estimator matches central differences", () => {
  for (const kl_estimator of ["k1", "k2", "k3"] as const) checkGradient({ ...EXAMPLE, ref: REF }, cfg({ loss_type: "bnpo", beta: 0.5, kl_estimator }));
});

test("with num_iterations = 1 the loss is −(aggregate of A), ≈ 0, while its gradient is not 0", () => {
  // ρ = 1 in value, so ℓ_t = −A_b: grpo gives −mean(A) = 0 for centred advantages; the gradient of
  // grpo w.r.t. logp[b, t] is −A_b / (B · n_b) on active tokens
  const A = [1.5, -0.5, -0.5, -0.5];
  const logp = tf.tensor2d([[-1, -2, -0.5], [-0.3, -1.1, -4], [-2, -0.2, -0.9], [-0.6, -0.7, -0.8]]);
  const mask = tf.ones([4, 3]) as tf.Tensor2D;
  const advantages = tf.tensor1d(A);
  const copy = tf.tensor2d(logp.arraySync());
  for (const oldLogp of [undefined, copy]) {
    const f = (lp: tf.Tensor) => grpoLoss({ logp: lp as tf.Tensor2D, oldLogp, mask, advantages }, cfg({ loss_type: "grpo" })).loss;
    const value = tf.tidy(() => f(logp).dataSync()[0]);
    const grad = tf.tidy(() => tf.grad(f)(logp).arraySync() as number[][]);
    expect(Math.abs(value)).toBeLessThan(1e-6);
    grad.forEach((row, b) => row.forEach((g) => expect(g).toBeCloseTo(-A[b] / (4 * 3), 6)));
  }
  // bnpo with unequal lengths: −Σ_b A_b·n_b / Σ n = −(1.5·3 − 0.5·(1 + 3 + 2)) / 9 = −1.5 / 9
  const ragged = tf.tensor2d([[1, 1, 1], [1, 0, 0], [1, 1, 1], [1, 1, 0]]);
  const bnpo = grpoLoss({ logp, mask: ragged, advantages }, cfg({ loss_type: "bnpo" }));
  expect(bnpo.loss.dataSync()[0]).toBeCloseTo(-1.5 / 9, 6);
  tf.dispose([logp, mask, advantages, copy, ragged, bnpo.loss]);
});

test("stopGradient passes the value and blocks the gradient", () => {
  const x = tf.tensor1d([1, 2, 3]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, stopGradient(v))))(x);
  expect(Array.from(g.dataSync())).toEqual([1, 2, 3]); // d/dv (v · c) = c, not 2v
  tf.dispose([x, g]);
});

test("truncated completions drop out of the loss when mask_truncated_completions is set", () => {
  const mask = tf.tensor2d(MASK);
  const zeroed = maskTruncated(mask, [false, true]);
  expect(zeroed.arraySync()).toEqual([[1, 1, 1], [0, 0, 0]]);
  tf.dispose([mask, zeroed]);
  // seq 1 gone: bnpo over seq 0 alone = −3.2 / 3
  const inputs = { ...tensors(EXAMPLE), truncated: [false, true] };
  const on = grpoLoss(inputs, cfg({ loss_type: "bnpo", mask_truncated_completions: true }));
  const off = grpoLoss(inputs, cfg({ loss_type: "bnpo" }));
  expect(on.loss.dataSync()[0]).toBeCloseTo(-3.2 / 3, 5);
  expect(on.metrics["clip_ratio/high_mean"]).toBeCloseTo(1 / 3, 6);
  expect(off.loss.dataSync()[0]).toBeCloseTo(-0.16, 5);
  tf.dispose([on.loss, off.loss]);
  disposeInputs(inputs);
});

test("no tensor outlives a call: the count is unchanged after a second loss and gradient", () => {
  const inputs = tensors({ ...EXAMPLE, ref: REF, ent: ENT });
  const once = () => {
    for (const importance_sampling_level of ["token", "sequence"] as const) {
      const c = cfg({ beta: 0.1, entropy_coef: 0.01, importance_sampling_level, mask_truncated_completions: true });
      const { loss } = grpoLoss({ ...inputs, truncated: [false, true] }, c);
      loss.dispose();
      const g = tf.grad((lp: tf.Tensor) => grpoLoss({ ...inputs, oldLogp: undefined, logp: lp as tf.Tensor2D }, c).loss)(inputs.logp);
      g.dispose();
    }
  };
  once();
  const before = tf.memory().numTensors;
  once();
  expect(tf.memory().numTensors).toBe(before);
  disposeInputs(inputs);
});

test("the config has TRL's defaults, documents every field and refuses bad values", () => {
  const c = GrpoConfig.parse({});
  expect(c).toEqual({
    num_generations: 8, loss_type: "dapo", importance_sampling_level: "token", epsilon: 0.2, beta: 0, kl_estimator: "k3",
    num_iterations: 1, scale_rewards: "group", mask_truncated_completions: false, entropy_coef: 0, max_completion_length: 256, skip_zero_advantage: false,
  });
  const fields = Object.entries(GrpoConfig.shape);
  expect(fields.length).toBeGreaterThan(0);
  for (const [name, field] of fields) expect(field.description, name).toBeTruthy();
  expect(() => GrpoConfig.parse({ lossType: "grpo" })).toThrow(/lossType/);
  expect(() => GrpoConfig.parse({ epsilon: 1 })).toThrow();
  expect(() => GrpoConfig.parse({ num_iterations: 0 })).toThrow();
});

test("a missing reference or entropy says what is needed", () => {
  const inputs = tensors(EXAMPLE);
  expect(() => grpoLoss(inputs, cfg({ beta: 0.04 }))).toThrow("grpoLoss: beta > 0 needs refLogp, the reference model's token log-probs (or set beta: 0)");
  expect(() => grpoLoss(inputs, cfg({ entropy_coef: 0.01 }))).toThrow("grpoLoss: entropy_coef > 0 needs entropy, the policy's token entropy (or set entropy_coef: 0)");
  const one = tf.tensor1d([1]);
  expect(() => grpoLoss({ ...inputs, advantages: one }, cfg())).toThrow("grpoLoss: 1 advantages for 2 completions");
  tf.dispose(one);
  disposeInputs(inputs);
});
