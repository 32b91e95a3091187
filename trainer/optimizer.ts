/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with global-norm gradient clipping, and the
 * learning-rate schedule (linear warmup, then cosine decay or constant). The moments are named like
 * the parameters so checkpoints can save and restore them exactly.
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";

export const OptimizerConfig = z.strictObject({
  lr: z.number().gt(0).default(3e-4).describe("Peak learning rate."),
  beta1: z.number().min(0).lt(1).default(0.9).describe("Adam first-moment decay."),
  beta2: z.number().min(0).lt(1).default(0.999).describe("Adam second-moment decay."),
  eps: z.number().gt(0).default(1e-8).describe("Adam denominator epsilon."),
  weight_decay: z.number().min(0).default(0.01).describe("Decoupled weight decay, applied to matrices and embeddings only (rank ≥ 2), as nanoGPT."),
  max_grad_norm: z.number().gt(0).nullable().default(1.0).describe("Clip the global gradient norm to this; null = no clipping."),
  warmup_steps: z.int().min(0).default(0).describe("Linear warmup from 0 to lr over this many steps."),
  schedule: z.enum(["cosine", "constant"]).default("cosine").describe("After warmup: cosine decay to min_lr_ratio·lr at the last step, or constant."),
  min_lr_ratio: z.number().min(0).max(1).default(0.1).describe("Final learning rate of the cosine schedule, as a fraction of lr."),
});
export type OptimizerConfig = z.infer<typeof OptimizerConfig>;

/** Learning rate for 0-based `step` of `totalSteps`. */
export function learningRate(step: number, totalSteps: number, c: OptimizerConfig): number {
  if (step < c.warmup_steps) return (c.lr * (step + 1)) / c.warmup_steps;
  if (c.schedule === "constant") return c.lr;
  const span = Math.max(1, totalSteps - c.warmup_steps - 1);
  const progress = Math.min(1, (step - c.warmup_steps) / span);
  const minLr = c.lr * c.min_lr_ratio;
  return minLr + 0.5 * (c.lr - minLr) * (1 + Math.cos(Math.PI * progress));
}

export interface StepResult {
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** True when the gradient was not finite and the update was skipped. */
  skipped: boolean;
}

export interface OptimizerState {
  /** Updates applied so far (Adam's t). */
  t: number;
  moments: Map<string, Float32Array>; // "m.<param>" and "v.<param>"
}

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  t = 0;

  constructor(private readonly params: Map<string, tf.Variable>, readonly config: OptimizerConfig) {
    for (const [name, p] of params) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** Clips and applies one update; a non-finite gradient norm skips it (nothing changes). */
  step(grads: Map<string, tf.Tensor>, lr: number): StepResult {
    const gradNorm = globalNorm([...grads.values()]);
    if (!Number.isFinite(gradNorm)) return { gradNorm, skipped: true };
    const c = this.config;
    const scale = c.max_grad_norm !== null && gradNorm > c.max_grad_norm ? c.max_grad_norm / (gradNorm + 1e-6) : 1;
    this.t++;
    const bc1 = 1 - c.beta1 ** this.t;
    const bc2 = 1 - c.beta2 ** this.t;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const raw = grads.get(name);
        if (!raw) continue; // a parameter off the graph this step (an expert no token reached)
        const g = scale === 1 ? raw : tf.mul(raw, scale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1)));
        v.assign(tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2)));
        let update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), c.eps));
        if (c.weight_decay > 0 && p.rank >= 2) update = tf.add(update, tf.mul(p, c.weight_decay));
        p.assign(tf.sub(p, tf.mul(update, lr)));
      }
    });
    return { gradNorm, skipped: false };
  }

  state(): OptimizerState {
    const moments = new Map<string, Float32Array>();
    for (const [name, m] of this.m) moments.set(`m.${name}`, m.dataSync() as Float32Array);
    for (const [name, v] of this.v) moments.set(`v.${name}`, v.dataSync() as Float32Array);
    return { t: this.t, moments };
  }

  /** Restores moments and t saved by `state()`; every parameter's moments must be present. */
  load(state: OptimizerState): void {
    for (const [kind, table] of [["m", this.m], ["v", this.v]] as const) {
      for (const [name, variable] of table) {
        const data = state.moments.get(`${kind}.${name}`);
        if (!data || data.length !== variable.size) {
          throw new Error(`optimizer state: ${kind}.${name} is ${data ? `size ${data.length}` : "missing"}, expected size ${variable.size}`);
        }
        tf.tidy(() => variable.assign(tf.tensor(data, variable.shape)));
      }
    }
    this.t = state.t;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/** sqrt(Σ ‖g‖²) over all tensors, read back as one number. */
export function globalNorm(tensors: tf.Tensor[]): number {
  if (tensors.length === 0) return 0;
  const sq = tf.tidy(() => tf.addN(tensors.map((g) => tf.sum(tf.square(g)))));
  const value = Math.sqrt(sq.dataSync()[0]);
  sq.dispose();
  return value;
}
