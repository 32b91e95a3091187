/**
 * The kernels of bmm.c (WebAssembly SIMD) behind a pointer interface. The module is instantiated on
 * the tfjs wasm backend's own linear memory (it has no data and never touches a stack), so the
 * kernels read tensors where tfjs keeps them and write outputs tfjs allocated: no copies in or out.
 * Scratch space comes from that heap's malloc.
 */
import fs from "node:fs";

interface Exports {
  bmm(A: number, B: number, out: number, scratchA: number, scratchB: number, batch: number, M: number, K: number, N: number,
    transA: number, transB: number, strideA: number, strideB: number): void;
  colsum(x: number, out: number, R: number, C: number): void;
  addbias(out: number, bias: number, R: number, C: number): void;
  writerows(dst: number, src: number, BH: number, T: number, w: number, cap: number, at: number): void;
  gelu(x: number, y: number, phi: number, n: number): void;
  gelugrad(dy: number, x: number, phi: number, dx: number, n: number): void;
  layernorm(x: number, w: number, b: number, y: number, xhat: number, inv: number, N: number, d: number, eps: number): void;
  layernormgrad(dy: number, xhat: number, inv: number, w: number, dx: number, dw: number, db: number, g: number, N: number, d: number): void;
}

/** The tfjs wasm heap: its memory and allocator. */
export interface Heap {
  memory: WebAssembly.Memory;
  malloc(bytes: number): number;
  free(ptr: number): void;
}

let bound: { heap: Heap; exports: Exports } | undefined;

function kernels(heap: Heap): Exports {
  if (bound?.heap.memory !== heap.memory) {
    const module = new WebAssembly.Module(fs.readFileSync(new URL("./bmm.wasm", import.meta.url)));
    const instance = new WebAssembly.Instance(module, { env: { memory: heap.memory } });
    bound = { heap, exports: instance.exports as unknown as Exports };
  }
  return bound.exports;
}

export interface BmmShape {
  batch: number;
  /** Rows and columns of op(A)·op(B) = [M, K]·[K, N]. */
  M: number;
  K: number;
  N: number;
  transA: boolean;
  transB: boolean;
  /** Floats between consecutive matrices of A (or B); 0 broadcasts one matrix over the batch. */
  strideA: number;
  strideB: number;
}

/** out[b] = op(A[b])·op(B[b]) (pointers into the heap; out holds batch·M·N floats). */
export function batchMatMulAt(heap: Heap, a: number, b: number, out: number, s: BmmShape): void {
  const k = kernels(heap);
  const scratch = s.transB ? heap.malloc(Math.max(4, s.K * s.N * 4)) : 0;
  try {
    k.bmm(a, b, out, 0, scratch, s.batch, s.M, s.K, s.N, s.transA ? 1 : 0, s.transB ? 1 : 0, s.strideA, s.strideB);
  } finally {
    if (scratch) heap.free(scratch);
  }
}

/** out[j] = Σ_r x[r·C + j], rows summed in order (pointers into the heap). */
export function columnSumAt(heap: Heap, x: number, out: number, R: number, C: number): void {
  kernels(heap).colsum(x, out, R, C);
}

/** dst [BH, cap, w] rows at..at+T ← src [BH, T, w] (pointers into the heap). */
export function writeRowsAt(heap: Heap, dst: number, src: number, BH: number, T: number, w: number, cap: number, at: number): void {
  kernels(heap).writerows(dst, src, BH, T, w, cap, at);
}

/** y = x·Φ(x) and phi = Φ(x), n floats (gelu.c; pointers into the heap). */
export function geluAt(heap: Heap, x: number, y: number, phi: number, n: number): void {
  kernels(heap).gelu(x, y, phi, n);
}

/** dx = dy·(Φ(x) + x·φ(x)), n floats (gelu.c; pointers into the heap). */
export function geluGradAt(heap: Heap, dy: number, x: number, phi: number, dx: number, n: number): void {
  kernels(heap).gelugrad(dy, x, phi, dx, n);
}

/** LayerNorm rows of x [N, d] → y, x̂ [N, d] and inv [N] (layernorm.c; pointers into the heap). */
export function layerNormAt(heap: Heap, x: number, w: number, b: number, y: number, xhat: number, inv: number, N: number, d: number, eps: number): void {
  kernels(heap).layernorm(x, w, b, y, xhat, inv, N, d, eps);
}

/** LayerNorm's backward pass → dx [N, d], dw [d], db [d] (layernorm.c; pointers into the heap). */
export function layerNormGradAt(heap: Heap, dy: number, xhat: number, inv: number, w: number, dx: number, dw: number, db: number, N: number, d: number): void {
  const g = heap.malloc(Math.max(4, d * 4));
  try {
    kernels(heap).layernormgrad(dy, xhat, inv, w, dx, dw, db, g, N, d);
  } finally {
    heap.free(g);
  }
}

/** out[r, j] += bias[j] over an [R, C] matrix, in place (pointers into the heap). */
export function addBiasAt(heap: Heap, out: number, bias: number, R: number, C: number): void {
  kernels(heap).addbias(out, bias, R, C);
}
