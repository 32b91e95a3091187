/** Tiny configs and batches shared by the tests: small enough that a step takes milliseconds. */
import * as tf from "@tensorflow/tfjs";
import { modelConfig, type ModelConfig } from "../trainer/model/config.ts";
import type { LmBatch } from "../trainer/lm.ts";
import { Rng } from "../datasets/rng.ts";

/** A metrics line without its wall-clock figures, which differ between two runs of the same seed. */
export function withoutTimes(m: Record<string, number>): Record<string, number> {
  const times = ["step_time", "sample/tokens_per_s", "verify/time_ms_p50", "verify/time_ms_p99"];
  return Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith("timing_s/") && !times.includes(k)));
}

/** 2 layers (dense, then MoE with 4 experts top-2), d 16, vocab 16, context 32. */
export function tinyConfig(overrides: Record<string, unknown> = {}): ModelConfig {
  return modelConfig({
    vocab_size: 16,
    d_model: 16,
    n_layers: 2,
    n_heads: 2,
    d_ff: 32,
    context_length: 32,
    moe_layers: [1],
    moe: { num_experts: 4, top_k: 2, d_ff: 32 },
    ...overrides,
  });
}

/** A fixed next-token batch of random tokens: B rows of T tokens, every position scored. */
export function randomBatch(B: number, T: number, vocab: number, seed: number, start = 0): LmBatch {
  const rng = new Rng(seed);
  const data = Int32Array.from({ length: B * (T + 1) }, () => rng.int(vocab));
  return tf.tidy(() => {
    const all = tf.tensor2d(data, [B, T + 1], "int32");
    return {
      tokens: tf.slice(all, [0, 0], [B, T]) as tf.Tensor2D,
      targets: tf.slice(all, [0, start + 1], [B, T - start]) as tf.Tensor2D,
      mask: tf.ones([B, T - start]) as tf.Tensor2D,
      start,
    };
  });
}

export function disposeBatch(b: LmBatch): void {
  tf.dispose([b.tokens, b.targets, b.mask]);
}

/**
 * out[b,i,j] = Σ_k op(A)[b,i,k]·op(B)[b,k,j] in float64 by plain loops, op transposing where asked and a
 * batch of 1 broadcasting: the oracle for every matMul kernel (WebAssembly and BLAS).
 */
export function naiveMatMul(a: Float32Array, b: Float32Array, batchA: number, batchB: number, M: number, K: number, N: number, tA: boolean, tB: boolean): Float64Array {
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * M * N);
  for (let n = 0; n < batch; n++) {
    const oa = (batchA === 1 ? 0 : n) * M * K;
    const ob = (batchB === 1 ? 0 : n) * K * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[oa + (tA ? k * M + i : i * K + k)] * b[ob + (tB ? j * K + k : k * N + j)];
        out[n * M * N + i * N + j] = s;
      }
  }
  return out;
}
