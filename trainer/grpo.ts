/**
 * The GRPO loss family and its config: per-token clipped policy-gradient loss with an optional KL
 * to a frozen reference and an entropy bonus, aggregated as grpo, bnpo, dr_grpo or dapo, with the
 * ratio taken per token or per sequence (GSPO). trainer/LOSSES.md gives each formula and its paper.
 * Why the logged loss is ≈ 0 with num_iterations = 1: π_old is π_θ detached, so ρ = 1 in value and
 * ℓ_t = −A_i, whose aggregate is ≈ −mean(A) ≈ 0 (advantages are centred per group); the gradient
 * −A_i·∇log π_θ is not 0, since ρ still carries it. Pure: tensors in, a scalar loss and plain metrics out.
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";

export const LOSS_TYPES = ["grpo", "bnpo", "dr_grpo", "dapo"] as const;
export type LossType = (typeof LOSS_TYPES)[number];

export const GrpoConfig = z.strictObject({
  num_generations: z.int().min(2).default(8)
    .describe("G: completions per prompt; advantages compare the completions of one group."),
  loss_type: z.enum(LOSS_TYPES).default("dapo")
    .describe("How token losses become one number: grpo (per-sequence mean, then mean), bnpo (mean over the batch's tokens), dr_grpo (sum / (B · max_completion_length)), dapo (sum / active tokens of the whole step). trainer/LOSSES.md gives each formula."),
  importance_sampling_level: z.enum(["token", "sequence"]).default("token")
    .describe("token: one ratio π_θ/π_old per token (GRPO); sequence: one per completion, exp of the mean token log-ratio (GSPO)."),
  epsilon: z.number().gt(0).lt(1).default(0.2)
    .describe("Lower clip ε_low: with a negative advantage, ratios below 1 − ε_low get no gradient."),
  epsilon_high: z.number().gt(0).optional()
    .describe("Upper clip ε_high: with a positive advantage, ratios above 1 + ε_high get no gradient; unset means epsilon. DAPO's clip-higher uses 0.28."),
  beta: z.number().min(0).default(0)
    .describe("Weight of the KL to the frozen reference model; 0 never builds the reference."),
  kl_estimator: z.enum(["k1", "k2", "k3"]).default("k3")
    .describe("Per-token KL estimate with d = log π_ref − log π_θ: k1 = −d, k2 = d²/2, k3 = exp(d) − d − 1 (TRL's, non-negative)."),
  num_iterations: z.int().min(1).default(1)
    .describe("Optimizer updates per generated batch (μ); above 1 the ratios π_θ/π_old move away from 1 and clipping acts."),
  scale_rewards: z.enum(["group", "batch", "none"]).default("group")
    .describe("Divide centred rewards by the group's std, the batch's std, or nothing (none: Dr. GRPO)."),
  mask_truncated_completions: z.boolean().default(false)
    .describe("Leave completions that hit the token budget out of the loss (DAPO's overlong filtering); they still count in their group's advantages."),
  entropy_coef: z.number().min(0).default(0)
    .describe("Weight of the entropy bonus: the loss subtracts entropy_coef · (token entropy, aggregated like the loss)."),
  max_completion_length: z.int().min(1).default(256)
    .describe("Token budget per completion; dr_grpo divides by B times this constant L."),
  skip_zero_advantage: z.boolean().default(false)
    .describe("Leave completions whose advantage is 0 (groups whose rewards all equal) out of the update's forward and backward passes. Their policy-gradient term is exactly 0 and the loss normalizers still count them, so the update is the same, only cheaper; the MoE aux losses then average over the kept completions. Needs beta = 0, entropy_coef = 0 and a loss_type other than bnpo (whose per-micro-batch token mean would change)."),
}).superRefine((c, ctx) => {
  if (!c.skip_zero_advantage) return;
  const why = c.beta > 0 ? "beta > 0 (the KL term has a gradient at A = 0)" : c.entropy_coef > 0 ? "entropy_coef > 0 (the entropy bonus has a gradient at A = 0)" : c.loss_type === "bnpo" ? "loss_type bnpo (its token mean is per micro-batch)" : null;
  if (why) ctx.addIssue({ code: "custom", path: ["skip_zero_advantage"], message: `cannot be used with ${why}` });
});
export type GrpoConfig = z.infer<typeof GrpoConfig>;

/** A micro-batch for the loss: B completions padded to L positions. */
export interface GrpoInputs {
  /** log π_θ of each completion token, on the gradient tape: [B, L]. */
  logp: tf.Tensor2D;
  /** log π_old (the policy that sampled); omitted means logp detached (num_iterations = 1): [B, L]. */
  oldLogp?: tf.Tensor2D;
  /** log π_ref of the frozen reference; needed when beta > 0, reported as `kl` whenever given: [B, L]. */
  refLogp?: tf.Tensor2D;
  /** One advantage per completion: [B]. */
  advantages: tf.Tensor1D;
  /** 1 on completion tokens, 0 on padding: [B, L]. */
  mask: tf.Tensor2D;
  /** Token entropy of π_θ, on the tape; needed when entropy_coef > 0, reported whenever given: [B, L]. */
  entropy?: tf.Tensor2D;
  /** truncated[b]: completion b hit the budget; its row is masked out when mask_truncated_completions. */
  truncated?: ArrayLike<boolean>;
}

export interface GrpoMetrics {
  /** Masked mean of the KL estimate (only when refLogp is given). */
  kl?: number;
  /** Share of active tokens (sequences, for GSPO) with ρ < 1 − ε_low and A < 0. */
  "clip_ratio/low_mean": number;
  /** Share with ρ > 1 + ε_high and A > 0. */
  "clip_ratio/high_mean": number;
  /** Share clipped on either side. */
  "clip_ratio/region_mean": number;
  /** Masked mean token entropy (only when entropy is given). */
  entropy?: number;
}

/** What aggregation may need besides the token losses and the mask. */
export interface AggregateContext {
  /** L of dr_grpo: the completion budget. */
  maxCompletionLength: number;
  /** Active tokens over all micro-batches of the optimizer step (dapo); unset: Σ M of this one. */
  activeTokens?: number;
}

/** Token losses ℓ [B, L] and mask M [B, L] → one scalar. */
export type Aggregate = (l: tf.Tensor2D, m: tf.Tensor2D, ctx: AggregateContext) => tf.Scalar;

const maskedSum = (l: tf.Tensor2D, m: tf.Tensor2D) => tf.sum(tf.mul(l, m));

/** The four aggregations of ANCHORS "GRPO, exactly"; empty rows count 1 token so nothing divides by 0. */
export const aggregate: Record<LossType, Aggregate> = {
  grpo: (l, m) => tf.mean(tf.div(tf.sum(tf.mul(l, m), 1), tf.maximum(tf.sum(m, 1), 1))),
  bnpo: (l, m) => tf.div(maskedSum(l, m), tf.maximum(tf.sum(m), 1)),
  dr_grpo: (l, m, ctx) => tf.div(maskedSum(l, m), l.shape[0] * ctx.maxCompletionLength),
  dapo: (l, m, ctx) => tf.div(maskedSum(l, m), ctx.activeTokens === undefined ? tf.maximum(tf.sum(m), 1) : Math.max(ctx.activeTokens, 1)),
};

export type KlEstimator = GrpoConfig["kl_estimator"];

/** Per-token KL estimators of KL(π_θ ‖ π_ref) from d = log π_ref − log π_θ (Schulman's k1, k2, k3). */
export const klEstimate: Record<KlEstimator, (d: tf.Tensor) => tf.Tensor> = {
  k1: (d) => tf.neg(d),
  k2: (d) => tf.mul(tf.square(d), 0.5),
  k3: (d) => tf.sub(tf.sub(tf.exp(d), d), 1),
};

/** x in value, no gradient: tfjs has no stop_gradient op, so a custom gradient of zeros. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as <T extends tf.Tensor>(x: T) => T;

/** The mask with the rows of truncated completions zeroed: mask [B, L] → [B, L]. */
export function maskTruncated(mask: tf.Tensor2D, truncated: ArrayLike<boolean>): tf.Tensor2D {
  const B = mask.shape[0];
  if (truncated.length !== B) throw new Error(`truncated has ${truncated.length} flags for ${B} completions`);
  const keep = Float32Array.from({ length: B }, (_, b) => (truncated[b] ? 0 : 1));
  return tf.tidy(() => tf.mul(mask, tf.tensor2d(keep, [B, 1])) as tf.Tensor2D);
}

/** The mask the loss uses: truncated rows zeroed when the config asks. Count dapo's active tokens on it. */
export function lossMask(mask: tf.Tensor2D, truncated: ArrayLike<boolean> | undefined, config: GrpoConfig): tf.Tensor2D {
  if (!config.mask_truncated_completions || !truncated) return tf.clone(mask);
  return maskTruncated(mask, truncated);
}

function checkInputs(x: GrpoInputs, config: GrpoConfig): void {
  const [B, L] = x.logp.shape;
  const same: [string, tf.Tensor | undefined][] = [["oldLogp", x.oldLogp], ["refLogp", x.refLogp], ["mask", x.mask], ["entropy", x.entropy]];
  for (const [name, t] of same) {
    if (t && (t.shape[0] !== B || t.shape[1] !== L)) throw new Error(`grpoLoss: ${name} has shape [${t.shape}], logp has [${B},${L}]`);
  }
  if (x.advantages.shape[0] !== B) throw new Error(`grpoLoss: ${x.advantages.shape[0]} advantages for ${B} completions`);
  if (config.beta > 0 && !x.refLogp) throw new Error("grpoLoss: beta > 0 needs refLogp, the reference model's token log-probs (or set beta: 0)");
  if (config.entropy_coef > 0 && !x.entropy) throw new Error("grpoLoss: entropy_coef > 0 needs entropy, the policy's token entropy (or set entropy_coef: 0)");
}

/** Mean of x over the active entries of m (a share when x is a flag): both [B, L], or both [B, 1]. */
function maskedMean(x: tf.Tensor, m: tf.Tensor): tf.Scalar {
  return tf.div(tf.sum(tf.mul(tf.cast(x, "float32"), m)), tf.maximum(tf.sum(m), 1));
}

/** log ρ per token [B, L], or GSPO's one log s per sequence, the masked mean of log ρ [B, 1]. */
function logRatios(logp: tf.Tensor2D, oldLogp: tf.Tensor2D, m: tf.Tensor2D, level: GrpoConfig["importance_sampling_level"]): tf.Tensor2D {
  const perToken = tf.sub(logp, oldLogp) as tf.Tensor2D;
  if (level === "token") return perToken;
  return tf.div(tf.sum(tf.mul(perToken, m), 1, true), tf.maximum(tf.sum(m, 1, true), 1)) as tf.Tensor2D;
}

/**
 * TRL's clip shares [low, high, region] of ratio [B, L] or [B, 1], A [B, 1]: comparisons have no
 * gradient, so these stay off the loss. Per sequence, they count sequences with an active token.
 */
function clipShares(ratio: tf.Tensor2D, A: tf.Tensor2D, m: tf.Tensor2D, epsLow: number, epsHigh: number): tf.Scalar[] {
  const counted = ratio.shape[1] === m.shape[1] ? m : tf.cast(tf.greater(tf.sum(m, 1, true), 0), "float32");
  const low = tf.logicalAnd(tf.less(ratio, 1 - epsLow), tf.less(A, 0));
  const high = tf.logicalAnd(tf.greater(ratio, 1 + epsHigh), tf.greater(A, 0));
  return [maskedMean(low, counted), maskedMean(high, counted), maskedMean(tf.logicalOr(low, high), counted)];
}

/**
 * The GRPO-family loss of one micro-batch and its metrics (read out as numbers). With
 * importance_sampling_level = sequence the ratio is GSPO's exp(Σ_t M·log ρ_t / Σ_t M), one per
 * sequence (without GSPO-token's stop-gradient trick: with one advantage per sequence they agree).
 * `activeTokensInStep`: dapo's denominator, the active tokens of all micro-batches of the step
 * (default: this micro-batch's).
 */
export function grpoLoss(inputs: GrpoInputs, config: GrpoConfig, opts: { activeTokensInStep?: number } = {}): { loss: tf.Scalar; metrics: GrpoMetrics } {
  checkInputs(inputs, config);
  const epsLow = config.epsilon;
  const epsHigh = config.epsilon_high ?? config.epsilon;
  const { loss, values } = tf.tidy(() => {
    const { logp, refLogp, entropy } = inputs;
    const [B, L] = logp.shape;
    const m = lossMask(inputs.mask, inputs.truncated, config); // [B, L]
    const A = tf.reshape(inputs.advantages, [B, 1]) as tf.Tensor2D;
    const ratio = tf.exp(logRatios(logp, inputs.oldLogp ?? stopGradient(logp), m, config.importance_sampling_level)); // [B, L] or [B, 1]
    const clipped = tf.minimum(tf.maximum(ratio, 1 - epsLow), 1 + epsHigh); // min/max: both have gradients
    const surrogate = tf.neg(tf.minimum(tf.mul(ratio, A), tf.mul(clipped, A)));
    let perToken = tf.broadcastTo(surrogate, [B, L]) as tf.Tensor2D;
    const metrics: tf.Scalar[] = [];
    if (refLogp) {
      const kl = klEstimate[config.kl_estimator](tf.sub(refLogp, logp));
      if (config.beta > 0) perToken = tf.add(perToken, tf.mul(kl, config.beta));
      metrics.push(maskedMean(kl, m));
    }
    if (entropy) {
      if (config.entropy_coef > 0) perToken = tf.sub(perToken, tf.mul(entropy, config.entropy_coef));
      metrics.push(maskedMean(entropy, m));
    }
    const ctx = { maxCompletionLength: config.max_completion_length, activeTokens: opts.activeTokensInStep };
    const loss = aggregate[config.loss_type](perToken, m, ctx);
    metrics.push(...clipShares(ratio as tf.Tensor2D, A, m, epsLow, epsHigh));
    return { loss, values: tf.stack(metrics) };
  });
  const v = values.dataSync();
  values.dispose();
  let i = 0;
  const metrics = {} as GrpoMetrics;
  if (inputs.refLogp) metrics.kl = v[i++];
  if (inputs.entropy) metrics.entropy = v[i++];
  metrics["clip_ratio/low_mean"] = v[i++];
  metrics["clip_ratio/high_mean"] = v[i++];
  metrics["clip_ratio/region_mean"] = v[i++];
  return { loss, metrics };
}
