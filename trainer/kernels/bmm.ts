/**
 * The batched matMul kernel of bmm.c (WebAssembly SIMD, 4x16 register blocks) behind a plain
 * typed-array interface. It owns one growable linear memory; inputs are copied in and the product
 * copied out, which costs far less than the matMul itself at attention's sizes.
 */
import fs from "node:fs";

interface Exports {
  bmm(A: number, B: number, out: number, scratchA: number, scratchB: number, batch: number, M: number, K: number, N: number,
    transA: number, transB: number, strideA: number, strideB: number): void;
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

/** out[b] = op(A[b])·op(B[b]) into `out` (length batch·M·N). */
export function batchMatMulInto(a: Float32Array, b: Float32Array, out: Float32Array, s: BmmShape): void {
  const { exports, memory } = load();
  const sizeA = s.M * s.K;
  const sizeB = s.K * s.N;
  const base = align16(exports.__heap_base.value as number);
  const ptrA = base;
  const ptrB = ptrA + align16(a.byteLength);
  const ptrOut = ptrB + align16(b.byteLength);
  const ptrScratchA = ptrOut + align16(out.byteLength);
  const ptrScratchB = ptrScratchA + align16(sizeA * 4);
  const end = ptrScratchB + align16(sizeB * 4);
  if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
  new Float32Array(memory.buffer, ptrA, a.length).set(a);
  new Float32Array(memory.buffer, ptrB, b.length).set(b);
  exports.bmm(ptrA, ptrB, ptrOut, ptrScratchA, ptrScratchB, s.batch, s.M, s.K, s.N, s.transA ? 1 : 0, s.transB ? 1 : 0,
    s.broadcastA ? 0 : sizeA, s.broadcastB ? 0 : sizeB);
  out.set(new Float32Array(memory.buffer, ptrOut, out.length));
}
