/**
 * The differentiable building blocks of the transformer: linear, norms, GELU, FFN.
 * Gradients are written by hand so that each product takes the backend's fast path on wasm:
 * dy·Wᵀ transposes the small W and runs a plain product; xᵀ·dy (the weight gradient) is a
 * transposed-A product; bias gradients go to our column-sum kernel (trainer/kernels/bmm.c). On wasm
 * the products run on the machine's BLAS when the native add-on found one, else XNNPACK and our
 * SIMD kernel (trainer/kernels/wasm-kernels.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { COLUMN_SUM, GELU, GELU_GRAD, LAYER_NORM, LAYER_NORM_GRAD, LINEAR } from "../kernels/names.ts";

type Grad = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

/** tf.customGrad with the op's own signature (tfjs types every input as Tensor | GradSaveFunc). */
function customGrad<F extends (...inputs: never[]) => tf.Tensor>(
  body: (...args: [...Parameters<F>, tf.GradSaveFunc]) => Grad,
): F {
  return tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as F;
}

/** y = x·W + b with x [N, in], W [in, out], b [out] → [N, out]; the backward pass uses plain matMuls. */
export const linear = customGrad<(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D>((x, w, b, save) => {
  save([x, w]);
  return {
    value: tf.getKernel(LINEAR, tf.getBackend()) ? (tf.engine().runKernel(LINEAR, { x, w, b }) as tf.Tensor2D) : tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), weightGrad(xs, dy as tf.Tensor2D), columnSum(dy as tf.Tensor2D)];
    },
  };
});

/**
 * xᵀ·dy for x [N, in], dy [N, out] → [in, out]: a transposed-A product, which on wasm goes to our
 * kernel (trainer/kernels/bmm.c) and reads x in place; transposing x first and using XNNPACK
 * costs the [N, in] copy plus a repack of the fresh dy on every call, 2-3x the time, same bits.
 */
function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(x, dy, true, false);
}

/**
 * Σ over rows of y [N, d] → [d] (backward passes only: it has no gradient). wasm has a kernel for
 * it (trainer/backend.ts); elsewhere a [1, N]·[N, d] matMul, several times faster than tf.sum(y, 0).
 */
export function columnSum(y: tf.Tensor2D): tf.Tensor1D {
  if (tf.getKernel(COLUMN_SUM, tf.getBackend())) return tf.engine().runKernel(COLUMN_SUM, { x: y }) as tf.Tensor1D;
  return tf.reshape(tf.matMul(tf.ones([1, y.shape[0]]), y), [y.shape[1]]) as tf.Tensor1D;
}

/**
 * Scatter-add of rows: out[ids[i]] += rows[i], out [N, d]. Its gradient is a plain gather of the
 * upstream rows; tf.unsortedSegmentSum's own gradient also masks negative ids with broadcasted
 * logical ops, which dominate an MoE layer's backward pass on wasm.
 */
export function scatterAddRows(rows: tf.Tensor2D, ids: number[], N: number): tf.Tensor2D {
  // the ids travel as a plain array: a captured tensor would be freed before the backward pass runs
  const op = customGrad<(r: tf.Tensor2D) => tf.Tensor2D>((r) => ({
    value: tf.unsortedSegmentSum(r, tf.tensor1d(ids, "int32"), N),
    gradFunc: (dy) => [tf.gather(dy, tf.tensor1d(ids, "int32"))],
  }));
  return op(rows);
}

/** y = x·W with x [N, in], W [in, out] (no bias), backward with plain matMuls. */
export const matmulPlain = customGrad<(x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D>((x, w, save) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), weightGrad(xs, dy as tf.Tensor2D)];
    },
  };
});

const SQRT_HALF = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact GELU x·Φ(x) (erf form, as PyTorch's default), with its derivative Φ(x) + x·φ(x) written out.
 * wasm has a one-pass kernel each way (kernels/gelu.c); elsewhere the tfjs ops.
 */
export const gelu = customGrad<(x: tf.Tensor) => tf.Tensor>((x, save) => {
  const fused = tf.getKernel(GELU, tf.getBackend()) !== undefined;
  const [y, cdf] = fused
    ? (tf.engine().runKernel(GELU, { x }) as unknown as tf.Tensor[])
    : (() => {
        const c = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT_HALF))));
        return [tf.mul(x, c), c];
      })();
  save([x, cdf]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, c] = saved;
      if (fused) return [tf.engine().runKernel(GELU_GRAD, { dy, x: xs, phi: c }) as tf.Tensor];
      const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(xs))));
      return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
    },
  };
});

/**
 * LayerNorm over the last axis with weight and bias: x [N, d] → [N, d]. The backward pass is the
 * closed form dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) / σ with ĝ = dy·w, and column sums as matMuls.
 * wasm has a one-pass kernel each way (kernels/layernorm.c); elsewhere the tfjs ops.
 */
export function layerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  const fused = tf.getKernel(LAYER_NORM, tf.getBackend()) !== undefined;
  const op = customGrad<(x: tf.Tensor2D, w: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D>((xs, w, b, save) => {
    if (fused) {
      const [y, normed, invStd] = tf.engine().runKernel(LAYER_NORM, { x: xs, w, b }, { eps }) as unknown as tf.Tensor[];
      save([normed, invStd, w]);
      return { value: y, gradFunc: (dy, saved) => tf.engine().runKernel(LAYER_NORM_GRAD, { dy, xhat: saved[0], inv: saved[1], w: saved[2] }) as unknown as tf.Tensor[] };
    }
    const { mean, variance } = tf.moments(xs, -1, true);
    const invStd = tf.rsqrt(tf.add(variance, eps));
    const normed = tf.mul(tf.sub(xs, mean), invStd);
    save([normed, invStd, w]);
    return {
      value: tf.add(tf.mul(normed, w), b),
      gradFunc: (dy, saved) => {
        const [xh, inv, ws] = saved;
        const g = tf.mul(dy, ws);
        const dx = tf.mul(tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), -1, true))), inv);
        return [dx, columnSum(tf.mul(dy, xh) as tf.Tensor2D), columnSum(dy as tf.Tensor2D)];
      },
    };
  });
  return op(x, weight, bias);
}

/** RMSNorm over the last axis with weight only: x [N, d] → [N, d]. */
export function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight) as tf.Tensor2D;
}

/** The weights of one GELU feed-forward block. */
export interface FfnWeights {
  fcW: tf.Tensor2D; // [d, d_ff]
  fcB: tf.Tensor1D; // [d_ff]
  projW: tf.Tensor2D; // [d_ff, d]
  projB: tf.Tensor1D; // [d]
}

/** GELU FFN: x [N, d] → [N, d]. */
export function ffn(x: tf.Tensor2D, w: FfnWeights): tf.Tensor2D {
  return linear(gelu(linear(x, w.fcW, w.fcB)) as tf.Tensor2D, w.projW, w.projB);
}
