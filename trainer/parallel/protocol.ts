/**
 * The messages between the run (rank 0, the main thread) and its worker threads (ranks 1 … N-1).
 * Requests are answered in order, one reply each. Small things (prompts, completions, metrics)
 * travel as structured clones; weights and gradients only through the SharedArrayBuffers of
 * allreduce.ts.
 */
import type { ModelConfig } from "../model/config.ts";
import type { GrpoConfig } from "../grpo.ts";
import type { SamplerConfig, Completion } from "../sampler.ts";
import type { MoeStats } from "../model/moe.ts";
import type { MicroBatchSpec } from "../update.ts";
import type { Layout } from "./allreduce.ts";
import type { LmArrays } from "../lm.ts";

/** What a worker starts from (its workerData). */
export interface WorkerInit {
  rank: number;
  /** The tfjs backend to run (the run's own, so replicas compute alike). */
  backend: string;
  config: ModelConfig;
  /** The weights every replica loads: the run's model's values() in `layout`. */
  layout: Layout;
  weights: Float32Array;
  /** Parameters only (gradient slots), in the model's parameter order. */
  params: Layout;
  /** The run's loss settings (evaluation-only pools, which never update, get the defaults). */
  grpo: GrpoConfig;
  /** The base checkpoint to load as the frozen KL reference (grpo.beta > 0). */
  referenceBase?: string;
}

export type Request =
  | { type: "sync" }
  /** promptOffset: the first prompt's index in the whole step, or each prompt's own seed key (evaluation). */
  | { type: "sample"; prompts: string[]; sampler: SamplerConfig; seed: number; promptOffset: number | number[] }
  | { type: "batch"; micro: MicroBatchSpec[] }
  | { type: "grads"; activeTokensInStep: number; slots: number[]; grads: Float32Array }
  | { type: "lm-grads"; micro: LmMicro[]; labelSmoothing: number; slots: number[]; grads: Float32Array }
  | { type: "drop" }
  | { type: "memory" }
  | { type: "values" }
  | { type: "fail" };

/** One micro-batch's gradient, written to its slot; the rest comes back in the reply. */
export interface GradReply {
  loss: number;
  /** Per parameter (params layout order): whether it has a gradient (an expert no token reached has none). */
  present: boolean[];
  moe: [number, MoeStats][];
  metrics: Record<string, number>;
  aux: number;
}

/** A supervised micro-batch: its arrays, the step's scored tokens and its share of the step's rows. */
export interface LmMicro {
  arrays: LmArrays;
  tokens: number;
  auxShare: number;
}

/** A supervised micro-batch's gradient, written to its slot; its loss, NLL and routing come back. */
export type LmGradReply = Pick<GradReply, "loss" | "present" | "moe"> & { nll: number };

export interface ReplyOf {
  sync: null;
  sample: Completion[];
  batch: { oldMs: number; refMs: number };
  grads: GradReply[];
  "lm-grads": LmGradReply[];
  drop: null;
  memory: { numTensors: number; numBytes: number; cachedMasks: number };
  values: [string, Float32Array][];
  fail: null;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string; stack?: string } | { ready: true } | { ready: false; error: string };
