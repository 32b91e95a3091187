/**
 * The native add-on (native.c) for the wasm backend, when `npm install` built it (a C compiler was
 * there: scripts/build-native.mjs): matrix products on the machine's BLAS when a BLAS library loads,
 * and GELU vectorized for the CPU (the same bits as the WebAssembly kernel). Without the add-on,
 * everything stays on WebAssembly, as before. `RLVR_NATIVE=off` leaves the add-on out; `RLVR_BLAS=off`
 * keeps only the products on WebAssembly; `RLVR_BLAS=/path/to/libblas.so` names the library to use.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import type { BmmShape, Heap } from "./bmm.ts";

interface Addon {
  open(path: string): string;
  loaded(): string;
  bmm(heap: ArrayBuffer, a: number, b: number, out: number, batch: number, M: number, K: number, N: number,
    transA: number, transB: number, strideA: number, strideB: number): void;
  gelu(heap: ArrayBuffer, x: number, y: number, phi: number, n: number): void;
  gelugrad(heap: ArrayBuffer, dy: number, x: number, phi: number, dx: number, n: number): void;
}

/** Where scripts/build-native.mjs writes the add-on. */
export const ADDON_PATH = new URL("./build/native.node", import.meta.url);

/** Optimized CBLAS libraries, by the name the dynamic loader knows them. The reference BLAS is left out: slower than wasm. */
const CANDIDATES = process.platform === "darwin"
  ? ["/System/Library/Frameworks/Accelerate.framework/Accelerate"]
  : ["libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", "libmkl_rt.so.2", "libmkl_rt.so"];

const off = (v: string | undefined) => v === "off" || v === "0";

type Loaded = { addon: Addon; why?: undefined } | { addon?: undefined; why: string };
let addonState: Loaded | undefined;
let blasState: { library: string; why?: undefined } | { library?: undefined; why: string } | undefined;

function loadAddon(): Loaded {
  if (off(process.env.RLVR_NATIVE)) return { why: "RLVR_NATIVE=off" };
  if (!fs.existsSync(ADDON_PATH)) return { why: "the native add-on is not built (npm run build:native; needs a C compiler)" };
  try {
    return { addon: createRequire(import.meta.url)(ADDON_PATH.pathname) as Addon };
  } catch (err) {
    return { why: `the native add-on failed to load (${String((err as Error).message).split("\n")[0]})` };
  }
}

/** The add-on, or undefined (then `nativeUnavailableReason` says why). */
export function nativeAddon(): Addon | undefined {
  return (addonState ??= loadAddon()).addon;
}

export function nativeUnavailableReason(): string | undefined {
  return (addonState ??= loadAddon()).why;
}

function loadBlas(): NonNullable<typeof blasState> {
  const addon = nativeAddon();
  if (!addon) return { why: nativeUnavailableReason() ?? "no add-on" };
  const setting = process.env.RLVR_BLAS;
  if (off(setting)) return { why: "RLVR_BLAS=off" };
  if (addon.loaded()) return { library: addon.loaded() };
  const tried: string[] = [];
  for (const path of setting ? [setting] : CANDIDATES) {
    const why = addon.open(path);
    if (!why) return { library: path };
    tried.push(why);
  }
  return { why: `no BLAS library found (${setting ? tried[0] : "install libopenblas0"})` };
}

/** The BLAS library in use, or undefined (see `blasUnavailableReason`). */
export function blasLibrary(): string | undefined {
  return (blasState ??= loadBlas()).library;
}

/** Why products run on WebAssembly, when they do. */
export function blasUnavailableReason(): string | undefined {
  return (blasState ??= loadBlas()).why;
}

/** out[b] = op(A[b])·op(B[b]) in BLAS, on the heap in place; call only when blasLibrary() is set. */
export function blasMatMulAt(heap: Heap, a: number, b: number, out: number, s: BmmShape): void {
  addonState!.addon!.bmm(heap.memory.buffer, a, b, out, s.batch, s.M, s.K, s.N, s.transA ? 1 : 0, s.transB ? 1 : 0, s.strideA, s.strideB);
}
