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
