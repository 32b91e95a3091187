/**
 * The batched matMul kernel of bmm.c (WebAssembly SIMD, 4x16 register blocks) behind a plain
 * typed-array interface. It owns one growable linear memory; inputs are copied in and the product
 * copied out, which costs far less than the matMul itself at attention's sizes.
 */
import fs from "node:fs";

interface Exports {
  bmm(A: number, B: number, out: number, scratchA: number, scratchB: number, batch: number, M: number, K: number, N: number,
    transA: number, transB: number, strideA: number, strideB: number): void;
  colsum(x: number, out: number, R: number, C: number): void;
  __heap_base: WebAssembly.Global;
}

let kernel: { exports: Exports; memory: WebAssembly.Memory } | undefined;

function load(): { exports: Exports; memory: WebAssembly.Memory } {
  if (!kernel) {
    const memory = new WebAssembly.Memory({ initial: 64 });
    const module = new WebAssembly.Module(fs.readFileSync(new URL("./bmm.wasm", import.meta.url)));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    kernel = { exports: instance.exports as unknown as Exports, memory };
  }
  return kernel;
}

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

export interface BmmShape {
  batch: number;
  /** Rows and columns of op(A)·op(B) = [M, K]·[K, N]. */
  M: number;
  K: number;
  N: number;
  transA: boolean;
  transB: boolean;
  /** Whether A (or B) is one matrix shared by every batch entry. */
  broadcastA: boolean;
  broadcastB: boolean;
}

/** Pointers to `sizes` floats each, laid out one after the other above the kernel's static data. */
function reserve(memory: WebAssembly.Memory, exports: Exports, sizes: number[]): number[] {
  let at = align16(exports.__heap_base.value as number);
  const ptrs = sizes.map((n) => {
    const p = at;
    at += align16(n * 4);
    return p;
  });
  if (at > memory.buffer.byteLength) memory.grow(Math.ceil((at - memory.buffer.byteLength) / 65536));
  return ptrs;
}

/** out[j] = Σ_r x[r·C + j], rows summed in order (out has C entries). */
export function columnSumInto(x: Float32Array, out: Float32Array): void {
  const { exports, memory } = load();
  const C = out.length;
  const R = C === 0 ? 0 : x.length / C;
  const [ptrX, ptrOut] = reserve(memory, exports, [x.length, C]);
  new Float32Array(memory.buffer, ptrX, x.length).set(x);
  exports.colsum(ptrX, ptrOut, R, C);
  out.set(new Float32Array(memory.buffer, ptrOut, C));
}

/** out[b] = op(A[b])·op(B[b]) into `out` (length batch·M·N). */
export function batchMatMulInto(a: Float32Array, b: Float32Array, out: Float32Array, s: BmmShape): void {
  const { exports, memory } = load();
  const sizeA = s.M * s.K;
  const sizeB = s.K * s.N;
  const [ptrA, ptrB, ptrOut, ptrScratchA, ptrScratchB] = reserve(memory, exports, [a.length, b.length, out.length, 0, sizeB]);
  new Float32Array(memory.buffer, ptrA, a.length).set(a);
  new Float32Array(memory.buffer, ptrB, b.length).set(b);
  exports.bmm(ptrA, ptrB, ptrOut, ptrScratchA, ptrScratchB, s.batch, s.M, s.K, s.N, s.transA ? 1 : 0, s.transB ? 1 : 0,
    s.broadcastA ? 0 : sizeA, s.broadcastB ? 0 : sizeB);
  out.set(new Float32Array(memory.buffer, ptrOut, out.length));
}

/**
 * out[b] = A[b]·op(B[b][:rows]) where each B[b] holds `capacity` rows of `width` floats and only the
 * first `rows` count (a KV cache with room to grow): with transB, op(B) = B[:rows]ᵀ ([width, rows]),
 * else B[:rows] ([rows, width]). A is [batch, M, K] with K = width (transB) or rows. Only the prefix
 * rows are copied, so the cost is that of a cache exactly `rows` long.
 */
export function prefixBatchMatMulInto(a: Float32Array, b: Float32Array, out: Float32Array, batch: number, M: number, capacity: number, rows: number, width: number, transB: boolean): void {
  const { exports, memory } = load();
  const K = transB ? width : rows;
  const N = transB ? rows : width;
  const sizeB = rows * width;
  const [ptrA, ptrB, ptrOut, ptrScratchA, ptrScratchB] = reserve(memory, exports, [a.length, batch * sizeB, out.length, 0, sizeB]);
  new Float32Array(memory.buffer, ptrA, a.length).set(a);
  const heapB = new Float32Array(memory.buffer, ptrB, batch * sizeB);
  for (let i = 0; i < batch; i++) heapB.set(b.subarray(i * capacity * width, i * capacity * width + sizeB), i * sizeB);
  exports.bmm(ptrA, ptrB, ptrOut, ptrScratchA, ptrScratchB, batch, M, K, N, 0, transB ? 1 : 0, M * K, sizeB);
  out.set(new Float32Array(memory.buffer, ptrOut, out.length));
}

