/**
 * The KV cache of incremental decoding: per layer, the keys and values of the tokens seen so far.
 * Where the backend has our KV-cache kernels (wasm), a cache may keep spare rows and write new ones
 * in place; otherwise it grows by concatenation.
 */
import * as tf from "@tensorflow/tfjs";
import { PREFIX_MATMUL, WRITE_ROWS } from "../kernels/names.ts";

/**
 * Per-layer K and V of the tokens seen so far, for incremental decoding. Owns its tensors. Where
 * the backend has the KV-cache kernels (wasm), each layer's K and V are [B, H, capacity, dh] with
 * rows past `length` unused, and new rows are written in place; elsewhere they are exactly
 * [B, H, length, dh] and grow by concatenation.
 */
export class KVCache {
  readonly keys: (tf.Tensor4D | null)[];
  readonly values: (tf.Tensor4D | null)[];
  /** Tokens cached so far (the position of the next token). */
  length = 0;
  /**
   * `padding[b]` = left-padding tokens of row b: masked as keys, and row b's positions start after them.
   * `capacity`: the tokens the cache will hold at most, if known (else it doubles as it fills).
   * `inPlace`: keep spare rows and write new ones in place (only where `canGrowInPlace()`); off, `keys`
   * and `values` are exactly `length` long, which code that reshapes a cache itself relies on.
   */
  constructor(nLayers: number, readonly padding?: number[], private readonly capacity = 0, readonly inPlace = false) {
    this.keys = new Array(nLayers).fill(null);
    this.values = new Array(nLayers).fill(null);
  }

  /** Whether the current backend has the kernels an in-place cache needs (wasm). */
  static canGrowInPlace(): boolean {
    return tf.getKernel(WRITE_ROWS, tf.getBackend()) !== undefined;
  }

  /**
   * Appends this step's K, V [B, H, T, dh] for a layer (at row `length`) and returns all of them
   * (kept alive); in place, with spare rows: only the first length + T are the cache.
   */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    if (this.inPlace) return [this.write(this.keys, layer, k), this.write(this.values, layer, v)];
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const allK = tf.keep(oldK ? tf.concat([oldK, k], 2) : k);
    const allV = tf.keep(oldV ? tf.concat([oldV, v], 2) : v);
    if (oldK && oldK !== allK) oldK.dispose();
    if (oldV && oldV !== allV) oldV.dispose();
    this.keys[layer] = allK;
    this.values[layer] = allV;
    return [allK, allV];
  }

  private write(store: (tf.Tensor4D | null)[], layer: number, x: tf.Tensor4D): tf.Tensor4D {
    const [B, H, T, dh] = x.shape;
    const at = this.length;
    let target = store[layer];
    if (!target || target.shape[2] < at + T) {
      const old = target;
      const cap = Math.max(at + T, this.capacity, 2 * (old?.shape[2] ?? 0));
      target = tf.keep(tf.zeros([B, H, cap, dh])) as tf.Tensor4D;
      if (old && at > 0) tf.tidy(() => writeRows(target!, tf.slice(old, [0, 0, 0, 0], [B, H, at, dh]), 0));
      old?.dispose();
      store[layer] = target;
    }
    writeRows(target, x, at);
    return target;
  }
  /**
   * A cache of only the given rows (in that order), with the padding columns every kept row has
   * trimmed; this cache is disposed. Positions count from each row's first real token, so trimming
   * shared padding changes no row's numbers: finished sequences leave a decode batch this way.
   */
  keepRows(rows: number[]): KVCache {
    const padding = rows.map((b) => this.padding?.[b] ?? 0);
    const trim = Math.min(...padding);
    const next = new KVCache(this.keys.length, padding.map((p) => p - trim), 0, this.inPlace);
    try {
      for (const kind of ["keys", "values"] as const) {
        this[kind].forEach((t, layer) => {
          next[kind][layer] = t && tf.tidy(() => {
            const kept = tf.gather(t, rows);
            return (trim > 0 ? tf.slice(kept, [0, 0, trim, 0], [-1, -1, -1, -1]) : kept) as tf.Tensor4D;
          });
        });
      }
    } catch (err) {
      next.dispose();
      throw err;
    }
    next.length = this.length - trim;
    this.dispose();
    return next;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
    this.length = 0;
  }
}

/** Writes x [B, H, T, dh] into rows at..at+T of target [B, H, capacity, dh], in place. */
function writeRows(target: tf.Tensor4D, x: tf.Tensor4D, at: number): void {
  (tf.engine().runKernel(WRITE_ROWS, { target, source: x }, { at } as unknown as tf.NamedAttrMap) as tf.Tensor).dispose();
}

/** a [B, H, M, K] times the first `rows` rows of an in-place cache tensor (transposed: K = dh, else K = rows). No gradient. */
export function prefixMatMul(a: tf.Tensor4D, cache: tf.Tensor4D, rows: number, transposeB: boolean): tf.Tensor4D {
  return tf.engine().runKernel(PREFIX_MATMUL, { a, b: cache }, { rows, transposeB } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
