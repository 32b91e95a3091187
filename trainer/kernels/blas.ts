/**
 * The machine's BLAS for the wasm backend's matrix products (blas.c), when both the add-on was built
 * (`npm install` compiles it where a C compiler exists: scripts/build-native.mjs) and a BLAS library
 * loads. Otherwise every product stays on WebAssembly, as before. `RLVR_BLAS=off` keeps them there;
 * `RLVR_BLAS=/path/to/libblas.so` names the library to use.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import type { BmmShape, Heap } from "./bmm.ts";

interface Addon {
  open(path: string): string;
  loaded(): string;
  bmm(heap: ArrayBuffer, a: number, b: number, out: number, batch: number, M: number, K: number, N: number,
    transA: number, transB: number, strideA: number, strideB: number): void;
}

/** Where scripts/build-native.mjs writes the add-on. */
export const ADDON_PATH = new URL("./build/blas.node", import.meta.url);

/** Optimized CBLAS libraries, by the name the dynamic loader knows them. The reference BLAS is left out: slower than wasm. */
const CANDIDATES = process.platform === "darwin"
  ? ["/System/Library/Frameworks/Accelerate.framework/Accelerate"]
  : ["libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", "libmkl_rt.so.2", "libmkl_rt.so"];

type State = { addon: Addon; library: string } | { why: string };
let state: State | undefined;

function load(): State {
  const setting = process.env.RLVR_BLAS;
  if (setting === "off" || setting === "0") return { why: "RLVR_BLAS=off" };
  if (!fs.existsSync(ADDON_PATH)) return { why: "the native add-on is not built (npm run build:native; needs a C compiler)" };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH.pathname) as Addon;
  } catch (err) {
    return { why: `the native add-on failed to load (${String((err as Error).message).split("\n")[0]})` };
  }
  if (addon.loaded()) return { addon, library: addon.loaded() };
  const tried: string[] = [];
  for (const path of setting ? [setting] : CANDIDATES) {
    const why = addon.open(path);
    if (!why) return { addon, library: path };
    tried.push(why);
  }
  return { why: `no BLAS library found (${setting ? tried[0] : "install libopenblas0"})` };
}

/** The BLAS library in use, or undefined (see `blasUnavailableReason`). */
export function blasLibrary(): string | undefined {
  const s = (state ??= load());
  return "library" in s ? s.library : undefined;
}

/** Why products run on WebAssembly, when they do. */
export function blasUnavailableReason(): string | undefined {
  const s = (state ??= load());
  return "why" in s ? s.why : undefined;
}

/** out[b] = op(A[b])·op(B[b]) in BLAS, on the heap in place; call only when blasLibrary() is set. */
export function blasMatMulAt(heap: Heap, a: number, b: number, out: number, s: BmmShape): void {
  if (!state || !("addon" in state)) throw new Error("bug: blasMatMulAt without a BLAS library");
  state.addon.bmm(heap.memory.buffer, a, b, out, s.batch, s.M, s.K, s.N, s.transA ? 1 : 0, s.transB ? 1 : 0, s.strideA, s.strideB);
}
