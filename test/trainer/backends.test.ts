import * as tf from "@tensorflow/tfjs";
import { expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { lmTrainStep } from "../../trainer/update.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { AdamW, OptimizerConfig } from "../../trainer/optimizer.ts";
import { UserError } from "../../datasets/user-error.ts";
import { disposeBatch, randomBatch, tinyConfig } from "../helpers.ts";

/** Trains a fresh tiny model (same seed) on one fixed batch; returns the per-step NLL. */
function overfit(steps: number): number[] {
  const model = Transformer.init(tinyConfig({ d_model: 32, d_ff: 64, moe: { num_experts: 4, top_k: 2, d_ff: 64 } }), 7);
  const opt = new AdamW(model.params, OptimizerConfig.parse({ lr: 1e-2, weight_decay: 0 }));
  const batch = randomBatch(2, 12, 16, 8);
  const nll = Array.from({ length: steps }, () => lmTrainStep(model, opt, batch, 1e-2).nll);
  disposeBatch(batch);
  opt.dispose();
  model.dispose();
  return nll;
}

const results = new Map<string, number[]>();

for (const backend of ["wasm", "cpu"] as const) {
  test(`a tiny model overfits a fixed batch on ${backend}: the loss drops by 10x`, async () => {
    expect(await initBackend(backend)).toBe(backend);
    expect(tf.getBackend()).toBe(backend);
    const nll = overfit(150);
    results.set(backend, nll);
    expect(nll[0]).toBeGreaterThan(2); // ≈ ln 16 = 2.77 at initialization
    expect(nll[nll.length - 1]).toBeLessThan(nll[0] / 10);
  });
}

test("wasm and cpu agree on the first-step loss to 1e-4", () => {
  const wasm = results.get("wasm");
  const cpu = results.get("cpu");
  expect(wasm && cpu, "both overfit runs must have run first").toBeTruthy();
  expect(Math.abs(wasm![0] - cpu![0])).toBeLessThan(1e-4);
});

test("an unknown backend package gives the install command", async () => {
  await expect(initBackend("node")).rejects.toThrow("npm install @tensorflow/tfjs-node");
});

test("--backend node-gpu or node without its package is a UserError saying it is not installed and how to install it", async () => {
  // neither package is a dependency (they download libtensorflow when installed), so a clone has neither
  for (const [backend, pkg] of [["node-gpu", "@tensorflow/tfjs-node-gpu"], ["node", "@tensorflow/tfjs-node"]] as const) {
    const error = await initBackend(backend).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(`backend "${backend}" needs ${pkg}, which is not installed: run \`npm install ${pkg}\`, or use --backend auto (falls back to wasm)`);
  }
});
