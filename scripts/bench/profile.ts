/**
 * Where a training step and a decode go, kernel by kernel: every kernel of the current backend is
 * wrapped with a timer, then one lmTrainStep (64 × 96, as the model bench) and one sampleGroups
 * (8 prompts × 8, 64 new tokens) run on the reference config. Prints a table per phase: kernel →
 * ms, calls and share of the phase's wall time; what the kernels do not account for is JS (engine
 * bookkeeping, tape, the sampler's host code). Run: `npx tsx scripts/bench/profile.ts [backend]`.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import { modelConfig } from "../../trainer/model/config.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { AdamW, OptimizerConfig } from "../../trainer/optimizer.ts";
import { SamplerConfig, sampleGroups } from "../../trainer/sampler.ts";
import { lmTrainStep } from "../../trainer/update.ts";
import { Rng } from "../../datasets/rng.ts";
import { randomLmBatch } from "./model.ts";

const stats = new Map<string, { ms: number; calls: number }>();

function wrapKernels(backendName: string): void {
  for (const k of tf.getKernelsForBackend(backendName)) {
    const original = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        const out = original(args);
        const key = k.kernelName === "BatchMatMul" ? `BatchMatMul ${shapeKey(args)}` : k.kernelName;
        const s = stats.get(key) ?? { ms: 0, calls: 0 };
        s.ms += performance.now() - t0;
        s.calls++;
        stats.set(key, s);
        return out;
      },
    });
  }
}

function shapeKey(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap }): string {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const plain = a.shape.length === 2 && b.shape.length === 2 && !transposeA && !transposeB;
  if (process.env.PROFILE_SHAPES) return `${plain ? "2D" : "bt"} ${a.shape.join("x")}${transposeA ? "T" : ""} @ ${b.shape.join("x")}${transposeB ? "T" : ""}`;
  return plain ? "2-D plain" : `batched/transposed`;
}

function report(title: string, wallMs: number): void {
  const rows = [...stats.entries()].sort((x, y) => y[1].ms - x[1].ms);
  const kernelMs = rows.reduce((s, [, v]) => s + v.ms, 0);
  console.log(`\n== ${title}: ${wallMs.toFixed(0)} ms wall, ${kernelMs.toFixed(0)} ms in kernels`);
  for (const [name, v] of rows.slice(0, 25)) {
    console.log(`${name.padEnd(34)} ${v.ms.toFixed(1).padStart(8)} ms  ${String(v.calls).padStart(6)} calls  ${((100 * v.ms) / wallMs).toFixed(1).padStart(5)}%`);
  }
  console.log(`${"(outside kernels: JS, engine, host)".padEnd(34)} ${(wallMs - kernelMs).toFixed(1).padStart(8)} ms  ${"".padStart(12)}  ${((100 * (wallMs - kernelMs)) / wallMs).toFixed(1).padStart(5)}%`);
  stats.clear();
}

async function main(): Promise<void> {
  const backend = await initBackend((process.argv[2] ?? "wasm") as BackendName);
  wrapKernels(tf.getBackend());
  const model = Transformer.init(modelConfig({}), 0);
  const opt = new AdamW(model.params, OptimizerConfig.parse({ lr: 1e-5, weight_decay: 0.01, max_grad_norm: 1 }));
  const batch = randomLmBatch(64, 32, 64);
  lmTrainStep(model, opt, batch, 1e-5);
  stats.clear();
  const reps = 3;
  let t0 = performance.now();
  for (let i = 0; i < reps; i++) lmTrainStep(model, opt, batch, 1e-5);
  report(`train step ×${reps} (${backend})`, performance.now() - t0);

  const rng = new Rng(7);
  const prompts = Array.from({ length: 8 }, () => String.fromCharCode(...Array.from({ length: 31 }, () => 97 + rng.int(26))));
  const config = SamplerConfig.parse({ num_generations: 8, max_new_tokens: 64 });
  await sampleGroups(model, new ByteTokenizer(), prompts, SamplerConfig.parse({ num_generations: 8, max_new_tokens: 4 }), 1);
  stats.clear();
  t0 = performance.now();
  const out = await sampleGroups(model, new ByteTokenizer(), prompts, config, 1);
  const ms = performance.now() - t0;
  report(`decode 64 × 64 (${out.reduce((s, c) => s + c.tokens.length, 0)} tokens, ${backend})`, ms);
  tf.dispose([batch.tokens, batch.targets, batch.mask]);
  opt.dispose();
  model.dispose();
}

await main();
