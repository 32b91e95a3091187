/**
 * The kernels the wasm backend lacks or runs slowly, registered over tfjs's own (trainer/backend.ts
 * calls registerWasmKernels once, when it activates wasm): matrix products on the machine's BLAS or
 * our SIMD kernels, row gather and scatter-add, column sums, GELU, LayerNorm and the KV cache's
 * in-place kernels. Each works on the backend's heap in place (bmm.ts, native.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { addBiasAt, batchMatMulAt, columnSumAt, geluAt, geluGradAt, layerNormAt, layerNormGradAt, writeRowsAt, type Heap } from "./bmm.ts";
import { blasLibrary, blasMatMulAt, blasUnavailableReason, nativeAddon } from "./native.ts";
import { COLUMN_SUM, GELU, GELU_GRAD, LAYER_NORM, LAYER_NORM_GRAD, LINEAR, PREFIX_MATMUL, WRITE_ROWS } from "./names.ts";

let wasmKernelsRegistered = false;

/**
 * wasm has no UnsortedSegmentSum, which tf.gather's gradient (and our MoE combine) needs. It is a
 * scatter-add over the leading axes: cheap enough in plain JS on the wasm heap.
 */
export function registerWasmKernels(): void {
  if (wasmKernelsRegistered) return;
  wasmKernelsRegistered = true;
  registerRowGather();
  registerBatchMatMul();
  registerLinear();
  registerColumnSum();
  registerGelu();
  registerIdentity();
  registerLayerNorm();
  registerKvCacheKernels();
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const b = backend as unknown as WasmBackendInternals;
      const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
      const out = b.makeOutput(outShape, x.dtype);
      // views, not readSync's copies; taken after makeOutput, which may grow (and move) the heap
      const xs = b.typedArrayFromHeap(x) as unknown as Float32Array;
      const ids = b.typedArrayFromHeap(segmentIds) as unknown as Int32Array;
      const inner = ids.length === 0 ? 0 : xs.length / ids.length;
      const outValues = b.typedArrayFromHeap(out) as unknown as Float32Array;
      outValues.fill(0);
      for (let i = 0; i < ids.length; i++) {
        const seg = ids[i];
        if (seg < 0 || seg >= numSegments) continue; // TensorFlow drops out-of-range ids
        const src = i * inner;
        const dst = seg * inner;
        for (let j = 0; j < inner; j++) outValues[dst + j] += xs[src + j];
      }
      return out;
    },
  });
}

interface WasmBackendInternals {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): ArrayLike<number> & { fill(v: number): void; [i: number]: number };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { asm: { memory: WebAssembly.Memory }; _malloc(bytes: number): number; _free(ptr: number): void };
}

/** The backend's heap, for our kernels (trainer/kernels/bmm.ts), which work on it in place. */
function heapOf(w: WasmBackendInternals): Heap {
  return { memory: w.wasm.asm.memory, malloc: (n) => w.wasm._malloc(n), free: (p) => w.wasm._free(p) };
}

/** Where a tensor's data starts in the backend's heap (bytes). */
const at = (w: WasmBackendInternals, t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;

/**
 * wasm's GatherV2 copies element by element (~100 ms for 12k rows of 128 on these machines); the
 * common case here — whole rows along axis 0 — is a loop of typed-array row copies. Other cases
 * fall through to the original kernel.
 */
function registerRowGather(): void {
  const original = tf.getKernel("GatherV2", "wasm");
  if (!original) return;
  tf.unregisterKernel("GatherV2", "wasm");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
      const { axis, batchDims } = attrs as { axis: number; batchDims: number };
      if (axis !== 0 || batchDims !== 0 || x.dtype !== "float32") return original.kernelFunc(args);
      const b = backend as unknown as WasmBackendInternals;
      const out = b.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
      // views, not readSync's copies (a whole embedding table a token); after makeOutput, as above
      const xs = b.typedArrayFromHeap(x) as unknown as Float32Array;
      const ids = b.typedArrayFromHeap(indices) as unknown as Int32Array;
      const rows = x.shape[0];
      const inner = rows === 0 ? 0 : xs.length / rows;
      const outValues = b.typedArrayFromHeap(out) as unknown as Float32Array;
      for (let i = 0; i < ids.length; i++) {
        const r = ids[i];
        if (r < 0 || r >= rows) throw new Error(`gather: index ${r} is outside [0, ${rows})`);
        outValues.set(xs.subarray(r * inner, (r + 1) * inner), i * inner);
      }
      return out;
    },
  });
}

/**
 * Σ over the rows of a [R, C] matrix. The [1, R]·[R, C] product of ones that stands in for it
 * elsewhere makes XNNPACK repack the fresh [R, C] operand as a weight matrix on every call
 * (~7 ms for 6144 × 128 here, 50x the sum); this sums the same terms in the same order.
 */
function registerColumnSum(): void {
  tf.registerKernel({
    kernelName: COLUMN_SUM,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const w = backend as unknown as WasmBackendInternals;
      const out = w.makeOutput([x.shape[1]], "float32");
      columnSumAt(heapOf(w), at(w, x), at(w, out), x.shape[0], x.shape[1]);
      return out;
    },
  });
}

/**
 * tfjs saves every tensor a custom gradient keeps through an Identity kernel, which on wasm copies
 * the data (a fifth of a GB a training step here). Tensors are never written in place, save the KV
 * cache's own, which are never saved, so the clone can share the data, as Reshape does.
 */
function registerIdentity(): void {
  const original = tf.getKernel("Identity", "wasm");
  if (!original) return;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      if (x.dtype === "string") return original.kernelFunc(args);
      (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

/**
 * GELU in one pass each way: wasm's Erf and Exp are scalar library calls. The native add-on's
 * vectorized loop when it is built (kernels/native.c), else kernels/gelu.c; both give the same bits.
 */
function registerGelu(): void {
  tf.registerKernel({
    kernelName: GELU,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const w = backend as unknown as WasmBackendInternals;
      const y = w.makeOutput(x.shape, "float32");
      const phi = w.makeOutput(x.shape, "float32");
      const n = tf.util.sizeFromShape(x.shape);
      const native = nativeAddon();
      if (native) native.gelu(w.wasm.asm.memory.buffer, at(w, x), at(w, y), at(w, phi), n);
      else geluAt(heapOf(w), at(w, x), at(w, y), at(w, phi), n);
      return [y, phi];
    },
  });
  tf.registerKernel({
    kernelName: GELU_GRAD,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { dy, x, phi } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; phi: tf.TensorInfo };
      const w = backend as unknown as WasmBackendInternals;
      const dx = w.makeOutput(x.shape, "float32");
      const n = tf.util.sizeFromShape(x.shape);
      const native = nativeAddon();
      if (native) native.gelugrad(w.wasm.asm.memory.buffer, at(w, dy), at(w, x), at(w, phi), at(w, dx), n);
      else geluGradAt(heapOf(w), at(w, dy), at(w, x), at(w, phi), at(w, dx), n);
      return dx;
    },
  });
}

/** LayerNorm in one pass each way (kernels/layernorm.c): as tfjs ops it is ten kernel calls. */
function registerLayerNorm(): void {
  tf.registerKernel({
    kernelName: LAYER_NORM,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, w: weight, b: bias } = inputs as { x: tf.TensorInfo; w: tf.TensorInfo; b: tf.TensorInfo };
      const [N, d] = x.shape;
      const w = backend as unknown as WasmBackendInternals;
      const y = w.makeOutput([N, d], "float32");
      const xhat = w.makeOutput([N, d], "float32");
      const inv = w.makeOutput([N, 1], "float32");
      layerNormAt(heapOf(w), at(w, x), at(w, weight), at(w, bias), at(w, y), at(w, xhat), at(w, inv), N, d, (attrs as { eps: number }).eps);
      return [y, xhat, inv];
    },
  });
  tf.registerKernel({
    kernelName: LAYER_NORM_GRAD,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { dy, xhat, inv, w: weight } = inputs as { dy: tf.TensorInfo; xhat: tf.TensorInfo; inv: tf.TensorInfo; w: tf.TensorInfo };
      const [N, d] = dy.shape;
      const w = backend as unknown as WasmBackendInternals;
      const dx = w.makeOutput([N, d], "float32");
      const dw = w.makeOutput([d], "float32");
      const db = w.makeOutput([d], "float32");
      layerNormGradAt(heapOf(w), at(w, dy), at(w, xhat), at(w, inv), at(w, weight), at(w, dx), at(w, dw), at(w, db), N, d);
      return [dx, dw, db];
    },
  });
}

/**
 * A KV cache that grows by concatenation copies all of itself every token (~10% of decoding);
 * these let it keep spare rows and write the new ones in place (see names.ts).
 */
function registerKvCacheKernels(): void {
  tf.registerKernel({
    kernelName: WRITE_ROWS,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { target, source } = inputs as { target: tf.TensorInfo; source: tf.TensorInfo };
      const row = (attrs as { at: number }).at;
      const [B, H, cap, dh] = target.shape;
      const T = source.shape[2];
      if (row + T > cap || source.shape[3] !== dh || source.shape[0] * source.shape[1] !== B * H) throw new Error(`bug: cannot write [${source.shape}] at row ${row} of [${target.shape}]`);
      const w = backend as unknown as WasmBackendInternals;
      writeRowsAt(heapOf(w), at(w, target), at(w, source), B * H, T, dh, cap, row);
      return w.makeOutput([0], "float32");
    },
  });
  tf.registerKernel({
    kernelName: PREFIX_MATMUL,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { rows, transposeB } = attrs as { rows: number; transposeB: boolean };
      const [B, H, cap, dh] = b.shape;
      const M = a.shape[2];
      if (a.shape[0] * a.shape[1] !== B * H || a.shape[3] !== (transposeB ? dh : rows) || rows > cap) throw new Error(`bug: prefix matMul of [${a.shape}] and ${rows} rows of [${b.shape}]`);
      const w = backend as unknown as WasmBackendInternals;
      const out = w.makeOutput([a.shape[0], a.shape[1], M, transposeB ? rows : dh], "float32");
      // each cache matrix starts cap·dh floats after the last; only its first `rows` rows are read
      const K = transposeB ? dh : rows;
      matMulAt(heapOf(w), at(w, a), at(w, b), at(w, out), {
        batch: B * H, M, K, N: transposeB ? rows : dh, transA: false, transB: transposeB, strideA: M * K, strideB: cap * dh,
      });
      return out;
    },
  });
}

/** Where the wasm backend's matrix products run, in words: the BLAS library, or WebAssembly and why. */
export function matMulEngine(): string {
  const library = blasLibrary();
  return library ? `BLAS ${library} (one thread a rank)` : `WebAssembly SIMD (${blasUnavailableReason()})`;
}

/** The machine's BLAS when one loaded (kernels/native.ts), else our SIMD kernel. */
const matMulAt: typeof batchMatMulAt = (...args) => (blasLibrary() ? blasMatMulAt : batchMatMulAt)(...args);

/**
 * With the machine's BLAS (kernels/native.ts, ~90 GFLOP/s a core here) every float32 product goes there.
 * Without it: wasm's BatchMatMul reaches ~22 GFLOP/s only for a plain 2-D product (XNNPACK); batched
 * or transposed products fall to 0.5-1.5 GFLOP/s, and attention is made of them. Those go to our
 * SIMD kernel (trainer/kernels/bmm.c, ~17 GFLOP/s at attention's sizes); plain 2-D stays on XNNPACK.
 */
function registerBatchMatMul(): void {
  const original = tf.getKernel("BatchMatMul", "wasm");
  if (!original) return;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
      const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const plain2d = batchA === 1 && batchB === 1 && !transposeA && !transposeB && !blasLibrary();
      const broadcastable = batchA === batchB || batchA === 1 || batchB === 1;
      if (plain2d || !broadcastable || a.dtype !== "float32" || b.dtype !== "float32") return original.kernelFunc(args);
      const ra = a.shape.length;
      const rb = b.shape.length;
      const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
      const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
      const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
      const KB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
      if (K !== KB) throw new Error(`matMul: inner dimensions ${K} and ${KB} of shapes [${a.shape}] and [${b.shape}] differ`);
      const outer = (batchA >= batchB ? a.shape : b.shape).slice(0, -2);
      const w = backend as unknown as WasmBackendInternals;
      const out = w.makeOutput([...outer, M, N], "float32");
      matMulAt(heapOf(w), at(w, a), at(w, b), at(w, out), {
        batch: Math.max(batchA, batchB), M, K, N, transA: transposeA, transB: transposeB,
        strideA: batchA === 1 && batchB > 1 ? 0 : M * K, strideB: batchB === 1 && batchA > 1 ? 0 : K * N,
      });
      return out;
    },
  });
}

/**
 * A linear layer's forward product and bias in one kernel call: at decode time a token is ~40 such
 * layers, and each kernel call costs about as much as the small product. The product is whatever
 * BatchMatMul does (BLAS or XNNPACK), then the bias is added in place: the same bits as two calls.
 */
function registerLinear(): void {
  tf.registerKernel({
    kernelName: LINEAR,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { x, w: weight, b } = inputs as { x: tf.TensorInfo; w: tf.TensorInfo; b: tf.TensorInfo };
      const product = tf.getKernel("BatchMatMul", "wasm")!;
      const out = product.kernelFunc({ inputs: { a: x, b: weight }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
      const w = backend as unknown as WasmBackendInternals;
      addBiasAt(heapOf(w), at(w, out), at(w, b), out.shape[0], out.shape[1]);
      return out;
    },
  });
}
