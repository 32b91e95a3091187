/**
 * Whole GRPO step of the reference config as PERFORMANCE.md defines it: 8 prompts × G = 8 from
 * 32-token prompts, 64 new tokens at temperature 1, rewards, advantages, one clipped update
 * (num_iterations 1, no KL) on the 64 × 96 batch. Rewards are pseudo-random 0/1 from a hash of the
 * completion (the reference draws random rewards too), so no verifier time is included. With
 * `--reference`, also runs ../shared/bench/torch_reference.py (needs Debian's python3-torch and
 * libopenblas0-openmp) in the same run and prints the ratio.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { initBackend, type BackendName } from "../../trainer/backend.ts";
import { saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { modelConfig } from "../../trainer/model/config.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../datasets/rng.ts";
import { GrpoRunConfig, runGrpo } from "../../trainer/grpo-trainer.ts";
import type { Verifier } from "../../verifiers/types.ts";
import { median } from "./stats.ts";
import type { BenchOptions } from "./types.ts";

const coinFlip: Verifier = {
  name: "coin",
  verify: (completion) => {
    let h = 2166136261;
    for (let i = 0; i < completion.length; i++) h = Math.imul(h ^ completion.charCodeAt(i), 16777619);
    return { reward: (h >>> 0) % 2, reason: "hash" };
  },
};

export async function run(opts: BenchOptions & { reference?: boolean }): Promise<void> {
  const backend = await initBackend(opts.backend as BackendName);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-bench-grpo-"));
  try {
    const model = Transformer.init(modelConfig({}), 0);
    saveCheckpoint(path.join(tmp, "base"), model, { step: 0 });
    model.dispose();
    const rng = new Rng(3);
    // 31 random letters + <bos> = 32-token prompts, as the reference's 32 random bytes
    const rows = Array.from({ length: 64 }, () => ({ problem: String.fromCharCode(...Array.from({ length: 30 }, () => 97 + rng.int(26))) }));
    // the --workers column: one rank, and one per core (train.workers), in the same run
    const counts = [...new Set([1, os.availableParallelism()])];
    const ours: [number, number][] = [];
    for (const workers of counts) {
      const ms = await wholeStep(rows, tmp, workers, opts.quick, backend);
      ours.push([workers, ms]);
    }
    if (ours.length > 1) console.log(`workers ${ours[1][0]} / workers 1   ${(ours[1][1] / ours[0][1]).toFixed(2)}x the time`);
    if (opts.reference) referenceRatio(ours);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs the bench's GRPO steps with `workers` ranks, prints its lines and returns the median whole-step ms. */
async function wholeStep(rows: { problem: string }[], tmp: string, workers: number, quick: boolean, backend: string): Promise<number> {
  // every rank's V8 tiers its code up over the first steps, and a worker starts cold (the main
  // thread ran the 1-worker steps before it): three warm-up steps, then the median of three
  const warmup = quick ? 1 : 3;
  const steps = quick ? 2 : 6;
  const times: number[] = [];
  let rssMb = 0;
  const name = `bench-w${workers}`;
  await runGrpo(rows, {
    config: GrpoRunConfig.parse({
      name, seed: 0, base: path.join(tmp, "base"),
      sampler: { temperature: 1 },
      grpo: { num_generations: 8, max_completion_length: 64, loss_type: "bnpo", epsilon: 0.2 },
      optimizer: { lr: 1e-5, weight_decay: 0.01, max_grad_norm: 1, schedule: "constant" },
      train: { steps, prompts_per_step: 8, save_every: 0, completions_every: 0, keep_last: 1, workers },
      output_dir: tmp,
    }),
    tokenizer: new ByteTokenizer(),
    verifiers: [{ verifier: coinFlip, weight: 1 }],
    resume: false,
    log: () => {},
    progress: {
      update: (_s, _t, r) => {
        times.push(r.step_time * 1000);
        // worker threads live in this process: its RSS is the whole engine's
        rssMb = Math.max(rssMb, process.memoryUsage().rss / 2 ** 20);
      },
    },
  });
  const measured = times.slice(warmup);
  const ms = median(measured);
  const lines = fs.readFileSync(path.join(tmp, name, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const last = lines[lines.length - 1];
  const newTokens = last.num_tokens as number;
  const part = (k: string) => `${(1000 * median(lines.slice(warmup).map((l) => l[k] as number))).toFixed(0).padStart(5)} ms`;
  console.log(`\n== grpo: whole step (sample 64 x 64, score, update 64 x 96), reference config, backend ${backend}, workers ${workers}`);
  console.log(`whole step, workers ${workers}  ${ms.toFixed(0)} ms (median of ${measured.length} after ${warmup} warm-up)   ${(newTokens / (ms / 1000)).toFixed(0)} new tokens/s   ${(71.19 / (ms / 1000)).toFixed(2)} GFLOP/s (71.19 GFLOP/step)`);
  console.log(`  memory             ${rssMb.toFixed(0)} MB peak RSS between steps (the process: all ranks together)`);
  console.log(`  sampling           ${part("timing_s/gen")} (${newTokens} new tokens in the last step, KV cache)`);
  console.log(`  verification       ${part("timing_s/reward")} (a hash reward, as the reference's random one: the math grader's cost is its own suite)`);
  console.log(`  old-logprob pass   ${part("timing_s/old_log_prob")} (num_iterations 1: π_old is π_θ detached, no extra pass, as in TRL)`);
  console.log(`  update             ${part("timing_s/update_actor")} (forward + backward + AdamW on the 64 completions${workers > 1 ? `, 2 micro-batches of 32 over ${workers} ranks` : ""})`);
  return ms;
}

/** Runs the PyTorch reference now and prints its whole-step time beside ours (each workers count). */
function referenceRatio(ours: [number, number][]): void {
  const script = path.resolve(import.meta.dirname, "../../../shared/bench/torch_reference.py");
  const r = spawnSync("/usr/bin/python3", [script, "--quick"], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    console.log(`torch reference       not run: ${r.stderr.trim().split("\n").pop()} (apt-get install python3-torch libopenblas0-openmp)`);
    return;
  }
  const out = JSON.parse(r.stdout);
  type Timed = { median_ms: number; tokens_per_s?: number };
  for (const [threads, res] of Object.entries(out.torch as Record<string, { whole_step?: Timed; sample_kv?: Timed }>)) {
    const ref = res.whole_step?.median_ms;
    if (!ref) continue;
    const ratios = ours.map(([w, ms]) => `workers ${w}: ${(ms / ref).toFixed(2)}x`).join(", ");
    console.log(`torch ${threads.padEnd(15)} ${ref.toFixed(0)} ms whole step; ours / torch = ${ratios} the time`);
    // the sampler suite's "KV cache" line is ours for the same decode
    if (res.sample_kv?.tokens_per_s) console.log(`torch ${threads.padEnd(15)} decode 64 x 64 with KV cache: ${res.sample_kv.median_ms.toFixed(0)} ms, ${res.sample_kv.tokens_per_s.toFixed(0)} new tokens/s`);
  }
}
