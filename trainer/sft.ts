/**
 * Supervised training (pretraining a base model, or fine-tuning one): next-token loss on
 * prompt + solution with the loss on the solution tokens (and <eos>) only, AdamW with warmup and
 * cosine decay, gradient clipping, periodic held-out accuracy (the math verifier by default, or any verifier), checkpoints
 * and metrics in runs/<name>/. Data order comes from the seed; the cursor is saved, so a resumed run
 * continues with the same batches.
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import type { Row } from "../datasets/row.ts";
import { lmBatchOf, type LmArrays, type LmBatch } from "./lm.ts";
import { lmTrainStep, lmTrainStepMicro, type LmStepResult } from "./update.ts";
import { shardedGroupSampler } from "./parallel/data-parallel.ts";
import { lmTrainStepSharded } from "./parallel/lm-parallel.ts";
import { ParallelConfig, rankCount, WorkerPool } from "./parallel/workers.ts";
import { loadCheckpoint } from "./model/checkpoint.ts";
import { ModelConfig } from "./model/config.ts";
import type { Tokenizer } from "./model/tokenizer.ts";
import { Transformer } from "./model/transformer.ts";
import { BatchPlan, PlanState } from "./data-order.ts";
import { evaluateAccuracy, HeldOutEvalConfig } from "./eval/held-out.ts";
import { learningRate, OptimizerConfig } from "./optimizer.ts";
import { formatPrompt } from "./prompt.ts";
import { disposingAfter, runLoop, RunGuardConfig, startRun, type RunIo } from "./run-loop.ts";
import { promptTokens } from "./sampler.ts";

export const SftTrainConfig = z.strictObject({
  steps: z.int().min(1).default(1000).describe("Optimizer steps."),
  batch_size: z.int().min(1).default(32).describe("Sequences per step."),
  log_every: z.int().min(1).default(10).describe("Steps between progress lines."),
  eval_every: z.int().min(0).default(200).describe("Steps between held-out evaluations; 0 = only at the end."),
  save_every: z.int().min(0).default(500).describe("Steps between checkpoints; 0 = only at the end."),
  keep_last: z.int().min(1).default(2).describe("Checkpoints kept in runs/<name>/checkpoints (older ones are deleted)."),
  micro_batch_size: z.int().min(0).default(0).describe("Sequences per forward/backward pass; their gradients add up to one update, the same update as the whole batch at once. 0 = the whole batch. With train.workers > 1 the ranks split whole micro-batches, so set it to at most batch_size / workers."),
  label_smoothing: z.number().min(0).lt(1).default(0).describe("ε of label smoothing (target (1 − ε)·one-hot + ε·uniform, as PyTorch's CrossEntropyLoss): the model keeps ε of its probability spread over every byte, so it samples a stray byte at temperature 1 now and then. The logged loss is the plain NLL."),
  ...RunGuardConfig,
  ...ParallelConfig,
}).superRefine((t, ctx) => {
  const micro = t.micro_batch_size > 0 ? Math.ceil(t.batch_size / t.micro_batch_size) : 1;
  if (t.workers > 1 && micro < t.workers) {
    const most = Math.floor(t.batch_size / t.workers);
    ctx.addIssue({ code: "custom", path: ["micro_batch_size"], message: `train.workers ${t.workers} splits the batch's micro-batches across ranks, and ${micro} micro-batch${micro > 1 ? "es" : ""} leave${micro > 1 ? "" : "s"} a rank idle: set train.micro_batch_size to at most ${most} (batch_size / workers)` });
  }
});

/** The ranks a pretraining run gets: workers: 0 never starts more ranks than a batch has micro-batches. */
export function sftRanks(t: { workers: number; batch_size: number; micro_batch_size: number }): number {
  return rankCount(t.workers, t.micro_batch_size > 0 ? Math.ceil(t.batch_size / t.micro_batch_size) : 1);
}

export interface SftData {
  train: Row[];
  eval: Row[];
}

/** A pretraining run's settings: the recipe without its data section, which the command resolves into rows. */
export const SftRunConfig = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/).describe("Run name: outputs go to <output_dir>/<name>/."),
  seed: z.int().default(0).describe("Fixes initialization and data order."),
  model: ModelConfig.prefault({}).describe("The model to train (defaults: the reference tiny config)."),
  init_from: z.string().min(1).optional().describe("Checkpoint directory to continue pretraining from: its weights and model config replace `model`; the optimizer and schedule start fresh."),
  train: SftTrainConfig.prefault({}).describe("Steps, batch, label smoothing, logs, checkpoints, guards."),
  optimizer: OptimizerConfig.prefault({}).describe("AdamW and its learning-rate schedule."),
  eval: HeldOutEvalConfig.prefault({}).describe("How the held-out rows are sampled and graded."),
  output_dir: z.string().default("runs").describe("Parent directory of the run directory."),
});
export type SftRunConfig = z.infer<typeof SftRunConfig>;

export interface SftOptions extends RunIo {
  config: SftRunConfig;
}

/** Token ids and loss mask of one example: mask is 1 on the solution and <eos>. */
export function encodeExample(tokenizer: Tokenizer, row: Row, maxLen: number): { ids: number[]; mask: number[] } {
  const prompt = promptTokens(tokenizer, formatPrompt(row));
  const answer = [...tokenizer.encode(row.solution ?? ""), tokenizer.eos];
  const ids = [...prompt, ...answer].slice(0, maxLen);
  const mask = ids.map((_, i) => (i >= prompt.length ? 1 : 0));
  return { ids, mask };
}

/** Right-padded batch arrays: targets are the next tokens; padding and prompt positions have mask 0. */
export function encodeBatch(tokenizer: Tokenizer, rows: Row[], maxLen: number): LmArrays {
  const examples = rows.map((r) => encodeExample(tokenizer, r, maxLen + 1));
  const T = Math.max(2, ...examples.map((e) => e.ids.length)) - 1;
  const tokens = new Int32Array(rows.length * T).fill(tokenizer.pad);
  const targets = new Int32Array(rows.length * T).fill(tokenizer.pad);
  const mask = new Float32Array(rows.length * T);
  examples.forEach((e, b) => {
    for (let t = 0; t < e.ids.length - 1; t++) {
      tokens[b * T + t] = e.ids[t];
      targets[b * T + t] = e.ids[t + 1];
      mask[b * T + t] = e.mask[t + 1];
    }
  });
  return { tokens, targets, mask, rows: rows.length, width: T };
}

/** Right-padded batch tensors (encodeBatch, then lmBatchOf). */
export function makeBatch(tokenizer: Tokenizer, rows: Row[], maxLen: number): LmBatch {
  return lmBatchOf(encodeBatch(tokenizer, rows, maxLen));
}

/** Runs supervised training to `train.steps`; returns the final metrics. */
export async function runSft(data: SftData, tokenizer: Tokenizer, o: SftOptions): Promise<{ step: number; runDir: string; lastEval?: Record<string, number> }> {
  const c = o.config;
  const init = () => (c.init_from ? loadCheckpoint(c.init_from).model : Transformer.init(c.model, c.seed));
  const start = startRun<PlanState>(c, o, init, { epoch: 0, index: 0, offset: 0 }, PlanState);
  if (start.resumedFrom) o.log(`resuming ${c.name} from ${start.resumedFrom} (step ${start.step})`);
  else if (c.init_from) o.log(`starting from the weights of ${c.init_from}`);
  const { model, optimizer } = start;
  const lengths = data.train.map((r) => formatPrompt(r).length + (r.solution ?? "").length);
  const batches = new BatchPlan(lengths, c.train.batch_size, c.seed, start.cursor);
  let lastEval: Record<string, number> | undefined;
  const t0 = performance.now();
  let pool: WorkerPool | undefined;
  /** One update on the step's rows: the whole batch at once, or its micro-batches here or across the ranks. */
  const update = async (rows: Row[], lr: number): Promise<LmStepResult> => {
    const size = c.train.micro_batch_size;
    if (size === 0) {
      const batch = makeBatch(tokenizer, rows, model.config.context_length);
      try {
        return lmTrainStep(model, optimizer, batch, lr, c.train.label_smoothing);
      } finally {
        tf.dispose([batch.tokens, batch.targets, batch.mask]);
      }
    }
    const micro = Array.from({ length: Math.ceil(rows.length / size) }, (_, k) => encodeBatch(tokenizer, rows.slice(k * size, (k + 1) * size), model.config.context_length));
    return pool ? lmTrainStepSharded(pool, model, optimizer, micro, lr, c.train.label_smoothing) : lmTrainStepMicro(model, optimizer, micro, lr, c.train.label_smoothing);
  };
  const step = await disposingAfter(start, async () => {
    const ranks = sftRanks(c.train);
    if (ranks > 1) pool = await WorkerPool.start(model, { workers: ranks });
    const sharded = pool && shardedGroupSampler(pool, model, tokenizer);
    return runLoop(start, c.train, {
      step: async (s) => {
        const rows = batches.next().map((i) => data.train[i]);
        const lr = learningRate(s, c.train.steps, c.optimizer);
        const r = await update(rows, lr);
        return { step: s + 1, loss: r.nll, aux_loss: r.loss - r.nll, grad_norm: r.gradNorm, learning_rate: lr, epoch: batches.state.epoch, skipped_updates: r.skipped ? 1 : 0 };
      },
      // "0 = only at the end": a pretraining run always ends with its held-out figure
      evalDue: (s) => data.eval.length > 0 && ((c.train.eval_every > 0 && s % c.train.eval_every === 0) || s === c.train.steps),
      evaluate: async (s, record) => {
        const acc = await evaluateAccuracy(model, tokenizer, data.eval, c.eval, c.seed + s, sharded);
        lastEval = { "eval/accuracy": acc.pass1, [`eval/pass@${acc.k}`]: acc.passK };
        Object.assign(record, lastEval);
      },
      line: (record, s) => progressLine(record, s, c.train.steps, start.step, t0),
      cursor: () => batches.state,
    }, o).finally(() => pool?.close());
  });
  return { step, runDir: start.dir.path, lastEval };
}

function progressLine(r: Record<string, number>, step: number, total: number, first: number, t0: number): string {
  const perStep = (performance.now() - t0) / Math.max(1, step - first);
  const eta = ((total - step) * perStep) / 1000;
  const evalPart = r["eval/accuracy"] !== undefined ? `  eval/accuracy ${(100 * r["eval/accuracy"]).toFixed(1)}%` : "";
  return `step ${step}/${total}  loss ${r.loss.toFixed(4)}  lr ${r.learning_rate.toExponential(2)}  grad_norm ${r.grad_norm.toFixed(3)}${evalPart}  ${(perStep / 1000).toFixed(2)} s/step  ETA ${formatSeconds(eta)}`;
}

function formatSeconds(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.round(s)}s`;
}
