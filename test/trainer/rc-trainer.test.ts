import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Row } from "../../datasets/row.ts";
import { loadSource } from "../../datasets/source.ts";
import { generate } from "../../datasets/synthetic/index.ts";
import type { Verifier } from "../../verifiers/types.ts";
import { loadVerifiers } from "../../verifiers/registry.ts";
import { initBackend } from "../../trainer/backend.ts";
import { GrpoConfig } from "../../trainer/grpo.ts";
import { saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { AdamW, OptimizerConfig } from "../../trainer/optimizer.ts";
import { rcRun, rcStep, runRcGrpo, type RcRun } from "../../trainer/rc-trainer.ts";
import { checkContext, RcTrainConfig } from "../../trainer/reasoning-cache.ts";
import { RC_TEMPLATES, renderTemplate } from "../../datasets/rc-templates.ts";
import { loadRecipe } from "../../trainer/recipe.ts";
import { HeldOutEvalConfig } from "../../trainer/eval/held-out.ts";
import { GrpoRunConfig, GrpoTrainConfig, type GrpoOptions } from "../../trainer/grpo-trainer.ts";
import { lowercase, splitRunOptions } from "../run-fixtures.ts";
import { tinyConfig, withoutTimes } from "../helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-rc-train-"));
const tok = new ByteTokenizer();
const base = path.join(tmp, "base");
const rlvr = (args: string[], cwd = ROOT) => spawnSync(process.execPath, [path.join(ROOT, "scripts/rlvr.mjs"), ...args], { cwd, encoding: "utf8" });

beforeAll(async () => {
  await initBackend("wasm");
  const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 64 }), 1);
  saveCheckpoint(base, model, { step: 0 });
  model.dispose();
  // the CLI's chain problems are longer: a base with room for them
  const wide = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 128 }), 1);
  saveCheckpoint(path.join(tmp, "base-128"), wide, { step: 0 });
  wide.dispose();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rows: Row[] = Array.from({ length: 6 }, (_, i) => ({ problem: `p${i}`, answer: "" }));
const K = 4, B = 3, H_R = 6, H_S = 4;

function options(name: string, steps: number, rc: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): GrpoOptions {
  const { config, io } = splitRunOptions(extra);
  return {
    config: GrpoRunConfig.parse({
      name, seed: 5, base,
      grpo: GrpoConfig.parse({ num_generations: K, loss_type: "dapo" }),
      optimizer: OptimizerConfig.parse({ lr: 1e-2, schedule: "constant", weight_decay: 0 }),
      train: GrpoTrainConfig.parse({ steps, prompts_per_step: B, save_every: 2, keep_last: 3, log_every: 100 }),
      output_dir: tmp,
      rc: RcTrainConfig.parse({ turns: 3, states_per_rollout: 2, reason_tokens: H_R, summary_tokens: H_S, ...rc }),
      ...config,
    }),
    tokenizer: tok, verifiers: [{ verifier: lowercase, weight: 1 }], resume: false, log: () => {},
    ...io,
  };
}

/** An in-process run on a fresh tiny model (context 64), for inspecting single steps. */
function makeRun(rc: Record<string, unknown> = {}): RcRun {
  const o = options("inproc", 10, rc);
  const model = Transformer.init(tinyConfig({ vocab_size: 259, context_length: 64 }), 1);
  return rcRun(rows, o, model, new AdamW(model.params, o.config.optimizer));
}
const disposeRun = (run: RcRun) => {
  run.optimizer.dispose();
  run.model.dispose();
};
const metrics = (run: string) => fs.readFileSync(path.join(tmp, run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
const weights = (run: string, step: number) => fs.readFileSync(path.join(tmp, run, `checkpoints/step-${String(step).padStart(6, "0")}/model.safetensors`));

test("GRPO groups are (problem, state) pairs: batch × N_summ groups of K, advantages centred within each", async () => {
  const N = 3;
  const run = makeRun({ states_per_rollout: N });
  try {
    const s = await rcStep(run, 0);
    expect(s.rollouts.length).toBe(B);
    expect(s.states.length).toBe(B * N);
    expect(s.metrics["rc/groups"]).toBe(B * N);
    expect(s.completions.length).toBe(B * N * K);
    // each group of K consecutive completions answers one state's prompt; (problem, depth) pairs are distinct
    s.completions.forEach((c, i) => expect(c.group).toBe(Math.floor(i / K)));
    expect(new Set(s.states.map((st) => `${st.row}/${st.depth}`)).size).toBe(B * N);
    s.rollouts.forEach((r, b) => expect(s.states.slice(b * N, (b + 1) * N).every((st) => st.row === r.row)).toBe(true));
    // independent advantages: (r − mean) / (Bessel std + 1e-4) within each group of K
    const r = Array.from(s.rewards);
    let zeroStd = 0;
    for (let g = 0; g < B * N; g++) {
      const group = r.slice(g * K, (g + 1) * K);
      expect(group).toEqual(s.completions.slice(g * K, (g + 1) * K).map((c) => Math.fround((lowercase.verify(c.text, rows[0], { timeoutMs: 1000 }) as { reward: number }).reward)));
      const mean = group.reduce((a, b) => a + b, 0) / K;
      const std = Math.sqrt(group.reduce((a, b) => a + (b - mean) ** 2, 0) / (K - 1));
      if (std <= 1e-8) zeroStd++;
      group.forEach((x, j) => expect(s.advantages[g * K + j]).toBeCloseTo((x - mean) / (std + 1e-4), 4));
      expect(Math.abs(Array.from(s.advantages.slice(g * K, (g + 1) * K)).reduce((a, b) => a + b, 0))).toBeLessThan(1e-4);
    }
    expect(s.metrics.frac_reward_zero_std).toBeCloseTo(zeroStd / (B * N), 6);
    expect(s.metrics.reward).toBeCloseTo(r.reduce((a, b) => a + b, 0) / r.length, 5);
    expect(s.metrics.num_tokens).toBe(s.completions.reduce((a, c) => a + c.tokens.length, 0));
    for (const key of ["reward_std", "loss", "grad_norm", "completions/mean_length", "completions/clipped_ratio", "clip_ratio/region_mean", "moe/load/1/0", "rewards/lowercase/mean", "rc/accuracy_turn_1", "rc/accuracy_turn_3", "rc/reward_turn_2"]) {
      expect(s.metrics, key).toHaveProperty([key]);
    }
  } finally {
    disposeRun(run);
  }
});

test("the empty summary is always a state, the others come from the rollout's s_1..s_{T−1}, and the logged depths match", async () => {
  const T = 4, N = 3;
  const run = makeRun({ turns: T, states_per_rollout: N });
  try {
    for (let step = 0; step < 2; step++) {
      const s = await rcStep(run, step);
      s.rollouts.forEach(({ row, transcript }, b) => {
        const mine = s.states.slice(b * N, (b + 1) * N);
        expect(mine[0]).toEqual({ row, summary: "", depth: 0, source: "rollout" });
        const depths = mine.slice(1).map((st) => st.depth);
        expect(new Set(depths).size).toBe(N - 1);
        for (const st of mine.slice(1)) {
          expect(st.depth).toBeGreaterThanOrEqual(1);
          expect(st.depth).toBeLessThan(T);
          expect(st.summary).toBe(transcript.turns[st.depth].summary); // turn d+1 reasoned from s_d
        }
      });
      for (let d = 0; d < T; d++) expect(s.metrics[`rc/state_depth_${d}`]).toBeCloseTo(s.states.filter((st) => st.depth === d).length / s.states.length, 10);
      expect(s.metrics["rc/state_depth_0"]).toBeCloseTo(1 / N, 10);
      expect(s.metrics["rc/state_depth_mean"]).toBeCloseTo(s.states.reduce((a, st) => a + st.depth, 0) / s.states.length, 10);
      expect(s.metrics["rc/replay_states"]).toBe(0);
      for (const d of new Set(s.states.map((st) => st.depth))) {
        // by hand: the K rewards of each depth-d state, their mean, and how many such groups are constant
        const groups = s.states.flatMap((st, g) => (st.depth === d ? [Array.from(s.rewards.slice(g * K, (g + 1) * K))] : []));
        const flat = groups.flat();
        expect(s.metrics[`rc/reward_depth_${d}`]).toBeCloseTo(flat.reduce((a, b) => a + b, 0) / flat.length, 5);
        expect(s.metrics[`rc/zero_std_depth_${d}`]).toBeCloseTo(groups.filter((g) => g.every((x) => x === g[0])).length / groups.length, 10);
      }
    }
  } finally {
    disposeRun(run);
  }
});

test("training prompts are I_R(problem, state summary), never hold a reasoning, and obey |I_R| + |problem| + H_S + H_R", async () => {
  const reason_template = "Q: {problem}\nS: {summary}\nA:";
  const run = makeRun({ turns: 3, states_per_rollout: 3, reason_template });
  try {
    const s = await rcStep(run, 0);
    let checked = 0;
    s.states.forEach((st, g) => {
      const problem = rows[st.row].problem!;
      expect(s.prompts[g]).toBe(renderTemplate(reason_template, { problem, summary: st.summary }));
      expect(tok.encode(st.summary).length).toBeLessThanOrEqual(H_S);
      const bound = tok.encode(renderTemplate(reason_template, { problem })).length + H_S + H_R;
      for (const c of s.completions.filter((c) => c.group === g)) {
        expect(c.tokens.length).toBeLessThanOrEqual(H_R);
        expect(tok.encode(s.prompts[g]).length + c.tokens.length).toBeLessThanOrEqual(bound);
      }
      // no reasoning of the rollout (any turn) reaches a training prompt
      for (const turn of s.rollouts.find((r) => r.row === st.row)!.transcript.turns) {
        if (turn.reasoning.length < 3) continue;
        expect(s.prompts[g]).not.toContain(turn.reasoning);
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(0);
    // the summary slot of every non-empty state is filled: the states are not all s_0
    expect(s.states.some((st) => st.summary.length > 0)).toBe(true);
  } finally {
    disposeRun(run);
  }
});

test("steps leave no tensors behind", async () => {
  const run = makeRun({ replay: { size: 8, share: 0.5 } });
  // the model caches one causal mask per new sequence shape (freed with the model): not a leak
  const live = () => tf.memory().numTensors - (run.model as unknown as { maskCache: Map<string, unknown> }).maskCache.size;
  try {
    await rcStep(run, 0);
    const before = live();
    for (let step = 1; step < 4; step++) {
      await rcStep(run, step);
      expect(live()).toBe(before);
    }
  } finally {
    disposeRun(run);
  }
  // whole runs, with the held-out plain and RC evaluations, free everything they made
  const evalRows: Row[] = [{ problem: "e0", answer: "1" }, { problem: "e1", answer: "2" }];
  const start = tf.memory().numTensors;
  await runRcGrpo(rows, options("leak", 2, {}, { evalRows, eval: HeldOutEvalConfig.parse({ k: 2, temperature: 1, max_new_tokens: 4 }), train: GrpoTrainConfig.parse({ steps: 2, prompts_per_step: B, eval_every: 1 }) }));
  expect(metrics("leak")[1]).toHaveProperty(["eval/rc_accuracy"]);
  expect(tf.memory().numTensors).toBe(start);
});

test("the same seed gives the same metrics and weights; a killed run resumed from its checkpoint (replay buffer included) matches an unbroken one", async () => {
  const rc = { replay: { size: 6, share: 0.5 } };
  await runRcGrpo(rows, options("same-a", 4, rc));
  await runRcGrpo(rows, options("same-b", 4, rc));
  const a = metrics("same-a");
  expect(metrics("same-b").map(withoutTimes)).toEqual(a.map(withoutTimes));
  expect(weights("same-b", 4).equals(weights("same-a", 4))).toBe(true);
  // the buffer fills and is drawn from: the resume below has a non-empty buffer to restore
  expect(a[1]["rc/replay_size"]).toBe(6);
  expect(a[2]["rc/replay_states"] + a[3]["rc/replay_states"]).toBeGreaterThan(0);

  // a kill after step 4 was logged but before its checkpoint: the step-2 checkpoint and 4 metric lines remain
  await runRcGrpo(rows, options("killed", 4, rc));
  fs.rmSync(path.join(tmp, "killed/checkpoints/step-000004"), { recursive: true });
  expect(metrics("killed").length).toBe(4);
  const log: string[] = [];
  await runRcGrpo(rows, options("killed", 4, rc, { resume: true, log: (l: string) => log.push(l) }));
  expect(log[0]).toContain("(step 2, 6 summaries in the replay buffer)");
  expect(metrics("killed").map(withoutTimes)).toEqual(a.map(withoutTimes));
  expect(weights("killed", 4).equals(weights("same-a", 4))).toBe(true);
});

test("RC-RL on 2 ranks reproduces 1 rank's metrics over 4 steps (held-out plain and RC evaluations included) and its checkpoint", async () => {
  const evalRows: Row[] = [{ problem: "e0", answer: "1" }, { problem: "e1", answer: "2" }, { problem: "e22", answer: "3" }];
  // 3 rollouts × 2 states × 4 completions = 24 a step: 3 micro-batches of 8, so both ranks update
  let pools = 0;
  const run = (name: string, workers: number) => runRcGrpo(rows, options(name, 4, { replay: { size: 6, share: 0.5 } }, {
    evalRows, onWorkers: () => pools++, eval: HeldOutEvalConfig.parse({ k: 2, temperature: 1, max_new_tokens: 4 }),
    train: GrpoTrainConfig.parse({ steps: 4, prompts_per_step: B, micro_batch_size: 8, save_every: 2, keep_last: 2, eval_every: 2, workers }),
  }));
  await run("rc-one", 1);
  await run("rc-two", 2);
  expect(pools).toBe(1);
  const [one, two] = [metrics("rc-one").map(withoutTimes), metrics("rc-two").map(withoutTimes)];
  expect(two.length).toBe(4);
  two.forEach((line, s) => {
    expect(Object.keys(line).sort()).toEqual(Object.keys(one[s]).sort());
    for (const [k, v] of Object.entries(one[s])) expect(Math.abs(line[k] - v), `step ${s + 1} ${k}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
  });
  expect(two.filter((l) => l["eval/rc_accuracy"] !== undefined).map((l) => l.step)).toEqual([2, 4]);
  expect(new Set(one.map((l) => l.loss)).size).toBeGreaterThan(2);
  expect(weights("rc-two", 4).equals(weights("rc-one", 4))).toBe(true);
});

test("rlvr train runs an rc recipe end to end and logs rc/* metrics", () => {
  const file = path.join(tmp, "rc.yaml");
  fs.writeFileSync(file, `name: tiny-rc
base: ${path.join(tmp, "base-128")}
data:
  train:
    synthetic: { task: chain, count: 8, level: 1 }
  eval:
    synthetic: { task: chain, split: test, count: 2, level: 1 }
verifiers:
  - { name: math, weight: 1 }
grpo: { num_generations: 2 }
rc: { turns: 2, states_per_rollout: 2, reason_tokens: 8, summary_tokens: 8, eval_turns: 3, replay: { size: 4, share: 0.5 } }
train: { steps: 2, prompts_per_step: 2, save_every: 1, keep_last: 1, eval_every: 2 }
eval: { k: 2, max_new_tokens: 8 }
output_dir: ${tmp}
`);
  const r = rlvr(["train", file, "--backend", "wasm"]);
  expect(r.stderr).not.toContain("Error");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/step 2\/2 {2}reward \d\.\d{3} .*rc\/accuracy_turn_2 \d+\.\d%.*eval\/rc_accuracy \d+\.\d%/);
  const lines = metrics("tiny-rc");
  expect(lines.map((m) => m.step)).toEqual([1, 2]);
  for (const key of ["reward", "reward_std", "frac_reward_zero_std", "loss", "grad_norm", "rewards/math/mean", "completions/mean_length", "clip_ratio/region_mean", "moe/max_violation",
    "rc/accuracy_turn_1", "rc/accuracy_turn_2", "rc/state_depth_0", "rc/state_depth_1", "rc/state_depth_mean", "rc/replay_size"]) {
    expect(lines[0], key).toHaveProperty([key]);
  }
  expect(lines[0]["rc/state_depth_0"]).toBe(0.5);
  expect(lines[0]["completions/max_length"]).toBeLessThanOrEqual(8);
  for (const key of ["eval/accuracy", "eval/rc_accuracy", "eval/rc_accuracy_turn_3"]) expect(lines[1], key).toHaveProperty([key]);
  expect(fs.readdirSync(path.join(tmp, "tiny-rc/completions"))).toEqual(["step-000001.arrow", "step-000002.arrow"]);
  const state = JSON.parse(fs.readFileSync(path.join(tmp, "tiny-rc/checkpoints/step-000002/state.json"), "utf8"));
  expect(state.data_cursor.rc_replay.length).toBe(4);
});

test("recipes/rc-chain.yaml validates, fits the chain-rc base model's context, and fails before training without its base", async () => {
  const { GrpoRecipe } = await import("../../scripts/commands/train.ts");
  const { PretrainRecipe } = await import("../../scripts/commands/pretrain.ts");
  const file = path.join(ROOT, "recipes/rc-chain.yaml");
  const recipe = loadRecipe(file, GrpoRecipe);
  expect(recipe.rc).toBeDefined();
  expect(recipe.base).toBe("checkpoints/chain-rc-base");
  expect([recipe.rc!.reason_template, recipe.rc!.summary_template]).toEqual([RC_TEMPLATES["last-step"].reason, RC_TEMPLATES["last-step"].summary]);
  const verifiers = await loadVerifiers(recipe.verifiers);
  await Promise.all(verifiers.map((v) => v.close()));
  // every eval problem (and a sample of training problems) fits the context of the model pretrain-chain-rc.yaml makes
  const pretrain = loadRecipe(path.join(ROOT, "recipes/pretrain-chain-rc.yaml"), PretrainRecipe);
  const policy = { name: "chain-rc-base", maxContext: pretrain.model.context_length - 1, countTokens: (t: string) => tok.encode(t).length, promptsPerCall: () => 1, generate: async () => [], close: async () => {} };
  const rc = recipe.rc!;
  const config = { turns: Math.max(rc.turns, rc.eval_turns), reason_tokens: rc.reason_tokens, summary_tokens: rc.summary_tokens, reason_template: rc.reason_template, summary_template: rc.summary_template };
  const train = recipe.data.train as { synthetic: Record<string, unknown> };
  const sources = [{ synthetic: { ...train.synthetic, count: 2000 } }, recipe.data.eval!] as Parameters<typeof loadSource>[0][];
  for (const source of sources) {
    const problems = (await loadSource(source)).map((row, key) => ({ problem: String(row.problem), key }));
    expect(() => checkContext(problems, config, policy)).not.toThrow();
  }
  // the 4x-horizon measurement (REASONING-CACHE.md, "Result on chain"): 8-operation compact test
  // chains, 6 turns, fit every RC call; no whole solution fits one context, so plain decoding cannot finish
  const longRows = generate({ task: "chain", steps: 8, labeled: true, compact: true, split: "test", count: 100, seed: 3 });
  const long = longRows.map((row, key) => ({ problem: row.problem!, key }));
  expect(() => checkContext(long, { ...config, turns: 6 }, policy)).not.toThrow();
  for (const row of longRows) expect(tok.encode(`${row.problem}\n${row.solution}`).length).toBeGreaterThan(policy.maxContext);
  // run from elsewhere, its relative base is missing: the existing base-checkpoint error, before training
  const r = rlvr(["train", file], tmp);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`rlvr train: ${file}: base: `);
  expect(r.stderr).toContain("state.json: not found");
  expect(fs.existsSync(path.join(tmp, "runs"))).toBe(false);
});

test("RC accuracy is graded by eval.verifier, as the plain held-out accuracy is (not always by the math verifier)", async () => {
  const evalRows: Row[] = [{ problem: "e0", answer: "1" }, { problem: "e1", answer: "2" }];
  const verifier = path.resolve(import.meta.dirname, "../fixtures/verifiers/always-correct.mjs");
  await runRcGrpo(rows, options("graded", 1, {}, { evalRows, eval: { k: 2, temperature: 1, max_new_tokens: 4, verifier }, train: { steps: 1, prompts_per_step: B, eval_every: 1 } }));
  const [m] = metrics("graded");
  // the tiny untrained policy never writes "1" or "2" in a boxed answer: math grading would read 0
  expect(m["eval/accuracy"]).toBe(1);
  expect(m["eval/rc_accuracy"]).toBe(1);
  expect(m["rc/accuracy_turn_1"]).toBe(1);
});
