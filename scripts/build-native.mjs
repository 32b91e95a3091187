#!/usr/bin/env node
// Builds trainer/kernels/build/native.node, the add-on that hands the wasm backend's matrix products
// to the machine's BLAS and runs GELU natively (trainer/kernels/native.c). Runs at `npm install`;
// `npm run build:native` reruns it. Needs only a C compiler (no node-gyp, no headers, no network).
// Without one, or with RLVR_NATIVE=off, it says so in one line and exits 0: everything then stays
// on WebAssembly.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../trainer/kernels");
const source = path.join(dir, "native.c");
const target = path.join(dir, "build/native.node");

function skip(why) {
  console.log(`rlvr: native add-on not built (${why}); every kernel runs on WebAssembly`);
  process.exit(0);
}

if (process.env.RLVR_NATIVE === "off" || process.env.RLVR_NATIVE === "0") skip("RLVR_NATIVE=off");
if (process.platform === "win32") skip("not supported on Windows yet");
// Node-API symbols resolve against the node binary when the add-on loads
const link = process.platform === "darwin" ? ["-bundle", "-undefined", "dynamic_lookup"] : ["-shared", "-ldl"];
const compilers = process.env.CC ? [process.env.CC] : ["cc", "gcc", "clang"];
fs.mkdirSync(path.dirname(target), { recursive: true });
const tmp = `${target}.${process.pid}.tmp`;
let failure = "no C compiler found (cc, gcc or clang)";
for (const cc of compilers) {
  // -O3 vectorizes the GELU loops; no fp contraction keeps their bits equal to the wasm kernel's
  const r = spawnSync(cc, ["-O3", "-ffp-contract=off", "-fPIC", "-o", tmp, source, ...link], { encoding: "utf8" });
  if (r.error) continue; // not installed: try the next name
  if (r.status === 0) {
    fs.renameSync(tmp, target); // atomic: a running process never sees half an add-on
    console.log(`rlvr: built ${path.relative(process.cwd(), target)} with ${cc}`);
    process.exit(0);
  }
  const line = (r.stderr || "").trim().split("\n")[0];
  failure = line ? `${cc}: ${line}` : `${cc} exited with status ${r.status}`;
  fs.rmSync(tmp, { force: true });
}
skip(failure);
