import { spawnSync } from "node:child_process";
import fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test, vi } from "vitest";
import { initBackend, matMulEngine } from "../../trainer/backend.ts";
import { ADDON_PATH, blasLibrary, blasUnavailableReason, nativeAddon } from "../../trainer/kernels/native.ts";
import { Rng } from "../../datasets/rng.ts";
import { naiveMatMul } from "../helpers.ts";

// The native paths run where `npm install` built the add-on and (for products) a BLAS library is
// installed: CI installs gcc and libopenblas0 for them; elsewhere their tests say why they cannot run.
const available = (() => {
  if (!blasLibrary()) console.warn(`BLAS tests not run: ${blasUnavailableReason()}`);
  return blasLibrary() !== undefined;
})();

beforeAll(async () => {
  await initBackend("wasm");
});

const rng = new Rng(11);
const randomArray = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

test.runIf(available)("every matMul (plain, batched, broadcast, transposed, K = 0) goes to BLAS and matches plain loops", () => {
  const cases: [number, number, number, number, number, boolean, boolean][] = [
    [1, 1, 64, 128, 512, false, false], // a linear layer
    [1, 1, 37, 300, 19, true, false], // a weight gradient
    [1, 1, 1, 128, 256, false, true], // one decode row against the tied head
    [6, 6, 13, 7, 33, false, true],
    [4, 1, 9, 8, 17, true, true],
    [1, 3, 5, 9, 21, false, false],
    [2, 2, 3, 0, 4, false, false],
  ];
  expect(matMulEngine()).toMatch(/^BLAS \S+ \(one thread a rank\)$/);
  for (const [bA, bB, M, K, N, tA, tB] of cases) {
    const a = randomArray(bA * M * K);
    const b = randomArray(bB * K * N);
    const got = tf.tidy(() => tf.matMul(tf.tensor3d(a, tA ? [bA, K, M] : [bA, M, K]), tf.tensor3d(b, tB ? [bB, N, K] : [bB, K, N]), tA, tB));
    expect(got.shape).toEqual([Math.max(bA, bB), M, N]);
    const values = got.dataSync();
    got.dispose();
    const want = naiveMatMul(a, b, bA, bB, M, K, N, tA, tB);
    values.forEach((v, i) => expect(Math.abs(v - want[i]), `case ${[bA, bB, M, K, N, tA, tB]} at ${i}`).toBeLessThan(1e-4 * Math.sqrt(K + 1)));
  }
});

test.runIf(available)("a linear layer's kernel on BLAS gives the BLAS product then the bias add, bit for bit", () => {
  const [fused, twoCalls] = tf.tidy(() => {
    const x = tf.tensor2d(randomArray(64 * 128), [64, 128]);
    const w = tf.tensor2d(randomArray(128 * 512), [128, 512]);
    const b = tf.tensor1d(randomArray(512));
    return [(tf.engine().runKernel("RlvrLinear", { x, w, b }) as tf.Tensor).dataSync(), tf.add(tf.matMul(x, w), b).dataSync()];
  });
  expect(Buffer.from(fused.buffer).equals(Buffer.from(twoCalls.buffer))).toBe(true);
});

test.runIf(available)("the same product gives the same bits in two worker threads at once as on the main thread", async () => {
  // each thread must pin OpenBLAS to one thread itself: a worker that did not would race the other
  const script = `
    const { Worker, isMainThread, parentPort } = require("node:worker_threads");
    const m = require(${JSON.stringify(ADDON_PATH.pathname)});
    function product() {
      m.open(${JSON.stringify(blasLibrary() ?? "")});
      const mem = new WebAssembly.Memory({ initial: 200 });
      const f = new Float32Array(mem.buffer);
      for (let i = 0; i < 3 * 512 * 256; i++) f[i] = Math.sin(i * 0.37);
      for (let r = 0; r < 20; r++) m.bmm(mem.buffer, 0, 512 * 256 * 4, 2 * 512 * 256 * 4, 1, 512, 256, 256, 0, 1, 0, 0);
      return Buffer.from(f.slice(2 * 512 * 256, 3 * 512 * 256).buffer).toString("base64");
    }
    if (isMainThread) {
      const mine = product();
      const ws = [0, 1].map(() => new Worker(__filename));
      Promise.all(ws.map((w) => new Promise((r) => w.on("message", r)))).then((got) => {
        console.log(JSON.stringify(got.map((g) => g === mine)));
      });
    } else parentPort.postMessage(product());`;
  const file = `${fs.mkdtempSync("/tmp/rlvr-blas-")}/threads.cjs`;
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(JSON.parse(r.stdout)).toEqual([true, true]);
});

test("RLVR_BLAS=off keeps the products on WebAssembly and says so; RLVR_NATIVE=off leaves the add-on out", async () => {
  vi.stubEnv("RLVR_NATIVE", ""); // whatever the suite runs under
  vi.stubEnv("RLVR_BLAS", "off");
  vi.resetModules();
  let fresh = await import("../../trainer/kernels/native.ts");
  expect(fresh.blasLibrary()).toBeUndefined();
  expect(fresh.blasUnavailableReason()).toEqual(fs.existsSync(ADDON_PATH) ? "RLVR_BLAS=off" : expect.stringMatching(/add-on is not built/));
  vi.stubEnv("RLVR_NATIVE", "off");
  vi.resetModules();
  fresh = await import("../../trainer/kernels/native.ts");
  expect(fresh.nativeAddon()).toBeUndefined();
  expect(fresh.nativeUnavailableReason()).toBe("RLVR_NATIVE=off");
  expect(fresh.blasUnavailableReason()).toBe("RLVR_NATIVE=off");
  vi.unstubAllEnvs();
});

test.runIf(nativeAddon() !== undefined)("native GELU gives the WebAssembly kernel's bits, forward and backward", () => {
  const addon = nativeAddon()!;
  const memory = new WebAssembly.Memory({ initial: 64 });
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(new URL("../../trainer/kernels/bmm.wasm", import.meta.url))), { env: { memory } }).exports as {
    gelu(x: number, y: number, phi: number, n: number): void;
    gelugrad(dy: number, x: number, phi: number, dx: number, n: number): void;
  };
  const n = 100_003; // not a multiple of any vector width
  const f = new Float32Array(memory.buffer);
  const x = Float32Array.from(randomArray(n), (v, i) => (i % 11 === 0 ? v * 12 : v * 3)); // both tails
  f.set(x, 0);
  f.set(randomArray(n), n); // dy
  const bytes = (slot: number) => slot * n * 4;
  wasm.gelu(bytes(0), bytes(2), bytes(3), n);
  wasm.gelugrad(bytes(1), bytes(0), bytes(3), bytes(4), n);
  addon.gelu(memory.buffer, bytes(0), bytes(5), bytes(6), n);
  addon.gelugrad(memory.buffer, bytes(1), bytes(0), bytes(6), bytes(7), n);
  const bits = (slot: number) => new Uint32Array(memory.buffer, bytes(slot), n);
  for (const [native, web] of [[5, 2], [6, 3], [7, 4]]) {
    const [a, b] = [bits(native), bits(web)];
    const differ = a.findIndex((v, i) => v !== b[i]);
    expect(differ, `slot ${native}: first difference at ${differ}`).toBe(-1);
  }
  expect(() => addon.gelu(memory.buffer, bytes(0), memory.buffer.byteLength - 8, bytes(6), n)).toThrow("gelu: an operand runs past the heap");
});

test("a library that does not exist is named in the reason, and nothing is loaded", async () => {
  if (!fs.existsSync(ADDON_PATH)) return expect(blasUnavailableReason()).toMatch(/add-on is not built/);
  // a fresh process: the add-on's library, once open, is process-wide
  const code = `import { blasLibrary, blasUnavailableReason } from ${JSON.stringify(new URL("../../trainer/kernels/native.ts", import.meta.url).pathname)};
    console.log(JSON.stringify([blasLibrary() ?? null, blasUnavailableReason()]));`;
  const r = spawnSync("npx", ["tsx", "-e", code], { encoding: "utf8", env: { ...process.env, RLVR_NATIVE: "", RLVR_BLAS: "/nonexistent/libblas.so" } });
  const [library, why] = JSON.parse(r.stdout);
  expect(library).toBeNull();
  expect(why).toMatch(/no BLAS library found \(.*\/nonexistent\/libblas\.so/);
});

test("the build script never fails an install: a broken compiler gives one line and keeps the built add-on", () => {
  const before = fs.existsSync(ADDON_PATH) ? fs.readFileSync(ADDON_PATH) : undefined;
  const r = spawnSync(process.execPath, ["scripts/build-native.mjs"], { encoding: "utf8", env: { ...process.env, RLVR_NATIVE: "", CC: "false" } });
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe("rlvr: native add-on not built (false exited with status 1); every kernel runs on WebAssembly");
  if (before) expect(fs.readFileSync(ADDON_PATH).equals(before)).toBe(true);
});
