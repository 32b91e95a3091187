/**
 * Picks and initializes the TensorFlow.js backend, and registers the kernels the wasm backend lacks.
 * `auto` tries @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node (optional peer dependencies that
 * users install themselves: their installers download libtensorflow), then wasm, then cpu.
 * Our kernels are registered by kernels/wasm-kernels.ts, called from here and nowhere else.
 */
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { matMulEngine, registerWasmKernels } from "./kernels/wasm-kernels.ts";
import { UserError } from "../datasets/user-error.ts";

export const BACKEND_NAMES = ["auto", "wasm", "cpu", "node", "node-gpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The tfjs backend name each choice registers (tfjs-node and tfjs-node-gpu both register "tensorflow"). */
const TFJS_NAME: Record<Exclude<BackendName, "auto">, string> = {
  "node-gpu": "tensorflow",
  node: "tensorflow",
  wasm: "wasm",
  cpu: "cpu",
};

const PACKAGE: Partial<Record<BackendName, string>> = {
  "node-gpu": "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
};

let active: { requested: BackendName; chosen: Exclude<BackendName, "auto"> } | undefined;

/** Loads the backend's package (if any) and makes it current. Throws a UserError with the install hint on failure. */
async function activate(name: Exclude<BackendName, "auto">): Promise<void> {
  const pkg = PACKAGE[name];
  if (pkg) {
    try {
      await import(pkg);
    } catch (cause) {
      throw new UserError(whyNotLoaded(name, pkg, cause), { cause });
    }
  }
  if (name === "wasm") registerWasmKernels();
  const ok = await tf.setBackend(TFJS_NAME[name]);
  if (!ok) throw new UserError(`backend "${name}" failed to initialize; --backend auto falls back to the next that works`);
  await tf.ready();
}

/** A package that is absent wants installing; one that is present but fails (no libtensorflow, no CUDA) says why. */
function whyNotLoaded(name: string, pkg: string, cause: unknown): string {
  if (!isInstalled(pkg)) return `backend "${name}" needs ${pkg}, which is not installed: run \`npm install ${pkg}\`, or use --backend auto (falls back to wasm)`;
  return `backend "${name}": ${pkg} is installed but failed to load (${String((cause as Error)?.message).split("\n")[0]}); reinstall it or use --backend auto`;
}

// asked of the resolver, not read from the import's error, whose wording differs between Node and bundlers
function isInstalled(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `name` the current backend and returns the concrete choice. Idempotent; `auto` falls through
 * node-gpu → node → wasm → cpu and keeps the first that initializes.
 */
export async function initBackend(name: BackendName = "auto", log: (msg: string) => void = () => {}): Promise<string> {
  if (active && (active.requested === name || active.chosen === name)) {
    if (tf.getBackend() !== TFJS_NAME[active.chosen]) await tf.setBackend(TFJS_NAME[active.chosen]);
    return active.chosen;
  }
  const order: Exclude<BackendName, "auto">[] = name === "auto" ? ["node-gpu", "node", "wasm", "cpu"] : [name];
  const failures: string[] = [];
  for (const candidate of order) {
    try {
      await activate(candidate);
      active = { requested: name, chosen: candidate };
      const products = candidate === "wasm" ? `; matrix products: ${matMulEngine()}` : "";
      log(`rlvr: using the ${candidate} backend${failures.length ? ` (${failures.join("; ")})` : ""}${products}`);
      return candidate;
    } catch (err) {
      if (name !== "auto") throw err;
      failures.push(`${candidate} unavailable`);
    }
  }
  throw new Error("bug: the cpu backend ships with @tensorflow/tfjs and cannot be unavailable");
}

export { matMulEngine };

/** A backend's name for a run's first line; wasm adds where its matrix products run (they set its speed and last bits). */
export function describeBackend(name: string): string {
  return name === "wasm" ? `wasm, matrix products on ${matMulEngine()}` : name;
}
