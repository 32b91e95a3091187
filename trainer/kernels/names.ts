/**
 * Names of the kernels trainer/backend.ts registers beyond tfjs's own, for the model code to ask
 * for (`tf.getKernel(name, tf.getBackend())`) without importing the backend module.
 */

/** Σ over the rows of a [R, C] matrix, rows in order (bias gradients). wasm only. */
export const COLUMN_SUM = "RlvrColumnSum";

/**
 * KV-cache kernels (wasm only): the cache is [B, H, capacity, d_head] and grows in place.
 * WRITE_ROWS copies source [B, H, T, d_head] into target's rows at..at+T (mutating target: only for
 * tensors the cache owns) and returns an empty tensor. PREFIX_MATMUL is a [B, H, M, K] product
 * with the first `rows` rows of such a cache, transposed or not (attrs { rows, transposeB }).
 */
export const WRITE_ROWS = "RlvrWriteRows";
export const PREFIX_MATMUL = "RlvrPrefixBatchMatMul";

/** Exact GELU (wasm only): x → [x·Φ(x), Φ(x)]; GELU_GRAD: (dy, x, Φ(x)) → dy·(Φ(x) + x·φ(x)). */
export const GELU = "RlvrGelu";
export const GELU_GRAD = "RlvrGeluGrad";

/**
 * LayerNorm over the last axis (wasm only): (x [N, d], w, b; attrs { eps }) → [y, x̂, inv [N]];
 * LAYER_NORM_GRAD: (dy, x̂, inv, w) → [dx, dw, db].
 */
export const LAYER_NORM = "RlvrLayerNorm";
export const LAYER_NORM_GRAD = "RlvrLayerNormGrad";

/** x [N, in]·W [in, out] + b [out] in one kernel call (wasm only; the same bits as matMul then add). */
export const LINEAR = "RlvrLinear";
