/**
 * Training-step benchmark of the reference tiny config: forward + backward + AdamW on a 64 × 96
 * token batch (32 prompt + 64 scored positions per row, as the GRPO update of PERFORMANCE.md), next
 * to a plain 2-D matMul on the same backend, so the ratio shows how close training gets to the
 * backend's matMul speed. FLOPs follow ../shared/bench/torch_reference.py (matMul FLOPs only).
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import type { LmBatch } from "../../trainer/lm.ts";
import { lmTrainStep } from "../../trainer/update.ts";
import { modelConfig, type ModelConfig } from "../../trainer/model/config.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { AdamW, OptimizerConfig } from "../../trainer/optimizer.ts";
import { Rng } from "../../datasets/rng.ts";
import { median } from "./stats.ts";
import type { BenchOptions } from "./types.ts";

const B = 64;
const PROMPT = 32;
const NEW = 64;

/** Matmul FLOPs of one forward pass, counted as the torch reference counts them. */
export function forwardFlops(c: ModelConfig, batch: number, T: number, headPositions: number): number {
  const d = c.d_model;
  let perToken = 0;
  for (let i = 0; i < c.n_layers; i++) {
    perToken += 2 * (4 * d * d);
    perToken += c.moe_layers.includes(i) ? 2 * d * c.moe.num_experts + c.moe.top_k * 2 * (2 * d * c.moe.d_ff) : 2 * (2 * d * c.d_ff);
  }
  const attentionPerKey = c.n_layers * 4 * d;
  return batch * T * perToken + batch * T * T * attentionPerKey + headPositions * 2 * d * c.vocab_size;
}

function time(fn: () => void, reps: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** GFLOP/s of a plain [M, K]·[K, N] matMul (median of several timed calls). */
function matmulGflops(M: number, K: number, N: number, reps: number): number {
  const a = tf.randomNormal([M, K], 0, 1, "float32", 1);
  const b = tf.randomNormal([K, N], 0, 1, "float32", 2);
  // not tf.tidy(() => ….dataSync()): tidy walks a returned typed array element by element
  const once = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  once();
  const ms = median(time(once, reps));
  tf.dispose([a, b]);
  return (2 * M * K * N) / (ms * 1e6);
}

/** A batch of random byte tokens: B rows of `prompt` context, then `fresh` scored positions (the bench's train step, and the profiler's). */
export function randomLmBatch(B: number, prompt: number, fresh: number): LmBatch {
  const rng = new Rng(1);
  const data = Int32Array.from({ length: B * (prompt + fresh + 1) }, () => rng.int(256));
  return tf.tidy(() => {
    const all = tf.tensor2d(data, [B, prompt + fresh + 1], "int32");
    return {
      tokens: tf.slice(all, [0, 0], [B, prompt + fresh]) as tf.Tensor2D,
      targets: tf.slice(all, [0, prompt + 1], [B, fresh]) as tf.Tensor2D,
      mask: tf.ones([B, fresh]) as tf.Tensor2D,
      start: prompt,
    };
  });
}

export async function run(opts: BenchOptions): Promise<void> {
  const backend = await initBackend(opts.backend as BackendName);
  const config = modelConfig({});
  const model = Transformer.init(config, 0);
  const opt = new AdamW(model.params, OptimizerConfig.parse({ lr: 1e-5, weight_decay: 0.01, max_grad_norm: 1 }));
  const batch = randomLmBatch(B, PROMPT, NEW);
  const reps = opts.quick ? 2 : 5;
  const T = PROMPT + NEW;

  lmTrainStep(model, opt, batch, 1e-5); // warm-up: kernels compile, Adam makes its moments
  const stepMs = median(time(() => lmTrainStep(model, opt, batch, 1e-5), reps));
  const flops = 3 * forwardFlops(config, B, T, B * NEW);
  const trainGflops = flops / (stepMs * 1e6);
  const mm = matmulGflops(B * T, config.d_model, config.d_ff, reps * 3);
  const mm512 = matmulGflops(512, 512, 512, reps * 3);
  const best = Math.max(mm, mm512);

  console.log(`\n== model: forward + backward + AdamW, reference config (${model.parameterCount.toLocaleString()} params), batch ${B} x ${T}, backend ${backend}`);
  console.log(`train step            ${stepMs.toFixed(0)} ms/step (median of ${reps})   ${((B * T) / (stepMs / 1000)).toFixed(0)} tokens/s   ${trainGflops.toFixed(2)} GFLOP/s (${(flops / 1e9).toFixed(2)} GFLOP/step)`);
  console.log(`plain matMul          [${B * T}x${config.d_model}]@[${config.d_model}x${config.d_ff}] ${mm.toFixed(2)} GFLOP/s   512^3 ${mm512.toFixed(2)} GFLOP/s`);
  console.log(`training / matMul     ${((100 * trainGflops) / best).toFixed(1)}% of the backend's best plain matMul (target >= 50%)`);
  tf.dispose([batch.tokens, batch.targets, batch.mask]);
  opt.dispose();
  model.dispose();
}
