/**
 * RC-RL: GRPO on reasoning-cache states (Wu, Qu, Setlur, Kumar, arXiv 2602.03773). Each step:
 *
 *   1. roll out T_train turns of the RC loop (trainer/reasoning-cache.ts) with the current policy,
 *      one rollout per problem, no gradient;
 *   2. from each rollout take N_summ summary states: the empty summary s_0 always, the others drawn
 *      (seeded, without replacement) from its summaries s_1..s_{T−1}, or from the replay buffer;
 *   3. sample K = grpo.num_generations reasoning completions of at most H_R tokens from
 *      I_R(problem, state) for every state;
 *   4. reward each completion alone (myopic: the recipe's verifiers on that reasoning);
 *   5. GRPO groups are the (problem, state) pairs: advantages compare the K completions of a state;
 *   6. the usual GRPO update (update.ts updatePolicy) on those completions, whose prompts are the
 *      I_R prompts.
 *
 * The replay buffer keeps summaries of earlier steps (problem, summary, turn), bounded and FIFO; it
 * is saved in the checkpoint's data cursor, so a resumed run continues exactly. Seeds derive from
 * (seed, step, phase), so the same seed gives the same run.
 */
import { z } from "zod";
import type { Row } from "../datasets/row.ts";
import { scoreCompletions } from "../verifiers/registry.ts";
import { groupAdvantages, groupStats } from "./advantages.ts";
import { loadGrader, mathGrader, type Grader } from "./eval/grader.ts";
import { LocalPolicy, type Policy } from "./policy.ts";
import { loadCheckpoint } from "./model/checkpoint.ts";
import type { Transformer } from "./model/transformer.ts";
import type { AdamW } from "./optimizer.ts";
import { checkContext, loopConfig, runReasoningCache, type RcProblem, type RcTrainConfig, type RcTranscript } from "./reasoning-cache.ts";
import { renderTemplate } from "../datasets/rc-templates.ts";
import { deriveSeed, Rng } from "../datasets/rng.ts";
import { SamplerConfig, type Completion } from "./sampler.ts";
import { DataCursor, DataOrder } from "./data-order.ts";
import { evaluateAccuracy, HeldOutEvalConfig } from "./eval/held-out.ts";
import { completionsDirOf, groupLoss, groupSampler, grpoLoop, startGrpoRun, type GrpoOptions, type GrpoRun } from "./grpo-trainer.ts";
import { writeCompletions } from "./completions-table.ts";
import { rollout, roundMetrics, stepRecord } from "./rollout.ts";
import { updatePolicy } from "./update.ts";
import { shardedGroupSampler, updatePolicySharded } from "./parallel/data-parallel.ts";
import { rankCount, WorkerPool } from "./parallel/workers.ts";
import { disposeRun, disposingAfter } from "./run-loop.ts";

/** A summary kept from an earlier step: its problem (row index), text and turn (the t of s_t). */
export interface ReplayEntry {
  row: number;
  summary: string;
  turn: number;
}

/** A training state: a problem and the summary its reasoning continues from. */
export interface RcState {
  /** Index into run.rows. */
  row: number;
  summary: string;
  /** t of s_t: 0 for the empty summary. */
  depth: number;
  source: "rollout" | "replay";
}

export interface RcRun extends GrpoRun {
  rc: RcTrainConfig;
  /** Samples the rollouts with the run's model and sampler settings. */
  policy: Policy;
  /** Oldest first; at most rc.replay.size entries. */
  replay: ReplayEntry[];
  /** Grades RC accuracy (rollouts and held-out) as eval.verifier says, like the held-out evaluation. */
  grader: Grader;
}

/** What one step did, for tests and inspection; `metrics` is the line written to metrics.jsonl. */
export interface RcStep {
  metrics: Record<string, number>;
  /** Rows of the batch and their rollout, in batch order. */
  rollouts: { row: number; transcript: RcTranscript }[];
  /** One per GRPO group, grouped by rollout: its s_0 first. */
  states: RcState[];
  /** I_R(problem, state) per state. */
  prompts: string[];
  /** K per state, in state order; `group` is the state's index. */
  completions: Completion[];
  rewards: Float32Array;
  advantages: Float32Array;
}

/** Seed phases of a step. */
const ROLLOUT = 0x7c01, STATES = 0x7c02, COMPLETIONS = 0x7c03;

/** The problem text, as formatPrompt and evaluation read it. */
export const problemText = (row: Row) => String(row.problem ?? row.prompt ?? "");

/** Step 1: one RC rollout of rc.turns turns per row, with the current policy. */
async function rollOut(run: RcRun, rowIds: number[], step: number): Promise<RcStep["rollouts"]> {
  const problems: RcProblem[] = rowIds.map((i) => ({ problem: problemText(run.rows[i]), key: i }));
  const sampling = { n: 1, temperature: run.sampler.temperature, top_p: run.sampler.top_p, seed: deriveSeed(run.config.seed, step, ROLLOUT) };
  const transcripts = await runReasoningCache({ policy: run.policy, problems, config: loopConfig(run.rc), sampling });
  return rowIds.map((row, b) => ({ row, transcript: transcripts[b][0] }));
}

/**
 * Step 2: N_summ states per rollout, s_0 first. Each other slot takes, with probability
 * replay.share, an unused entry of the replay buffer (as it was before this step), else a summary
 * s_t of its own rollout (t from 1..T−1, without replacement).
 */
export function chooseStates(run: RcRun, rollouts: RcStep["rollouts"], step: number): RcState[] {
  const rng = Rng.forKeys(run.config.seed, step, STATES);
  const pool = run.rc.replay.size > 0 ? rng.shuffle(run.replay.map((_, i) => i)) : [];
  const states: RcState[] = [];
  for (const { row, transcript } of rollouts) {
    states.push({ row, summary: "", depth: 0, source: "rollout" });
    const depths = rng.shuffle(Array.from({ length: transcript.turns.length - 1 }, (_, i) => i + 1));
    for (let slot = 1; slot < run.rc.states_per_rollout; slot++) {
      const fromReplay = rng.uniform() < run.rc.replay.share && pool.length > 0;
      if (fromReplay) {
        const e = run.replay[pool.pop()!];
        states.push({ row: e.row, summary: e.summary, depth: e.turn, source: "replay" });
      } else {
        const d = depths.pop()!;
        states.push({ row, summary: transcript.turns[d].summary, depth: d, source: "rollout" }); // turn d+1 reasoned from s_d
      }
    }
  }
  return states;
}

/** This step's summaries join the buffer; the oldest beyond replay.size are dropped. */
function pushReplay(run: RcRun, rollouts: RcStep["rollouts"]): void {
  if (run.rc.replay.size === 0) return;
  for (const { row, transcript } of rollouts) {
    for (let t = 1; t < transcript.turns.length; t++) run.replay.push({ row, summary: transcript.turns[t].summary, turn: t });
  }
  run.replay.splice(0, Math.max(0, run.replay.length - run.rc.replay.size));
}

/** Per-turn accuracy (graded as the held-out evaluation grades: eval.verifier) and mean verifier reward of the rollouts. */
async function rolloutMetrics(run: RcRun, rollouts: RcStep["rollouts"]): Promise<Record<string, number>> {
  const T = run.rc.turns;
  const samples = rollouts.flatMap(({ row, transcript }) =>
    transcript.turns.map((t) => ({ completion: t.reasoning, row: run.rows[row], ctx: { completionTokens: t.reasoning_tokens, maxCompletionTokens: run.rc.reason_tokens } })));
  const scores = await scoreCompletions(run.verifiers, samples);
  const out: Record<string, number> = {};
  for (let t = 0; t < T; t++) {
    const verdicts = await Promise.all(rollouts.map(({ row, transcript }) => run.grader.grade(transcript.turns[t].reasoning, run.rows[row])));
    const correct = verdicts.filter((v) => v.correct).length;
    let reward = 0, counted = 0;
    rollouts.forEach((_, b) => {
      if (!scores.allNull[b * T + t]) [reward, counted] = [reward + scores.total[b * T + t], counted + 1];
    });
    out[`rc/accuracy_turn_${t + 1}`] = correct / rollouts.length;
    out[`rc/reward_turn_${t + 1}`] = counted ? reward / counted : 0;
  }
  const summaries = rollouts.flatMap(({ transcript }) => transcript.turns.slice(1).map((t) => t.summary_tokens));
  out["rc/summary_tokens_mean"] = summaries.length ? summaries.reduce((a, b) => a + b, 0) / summaries.length : 0;
  out["rc/rollout_tokens"] = rollouts.reduce((s, r) => s + r.transcript.generated_tokens, 0);
  return out;
}

/** The depth distribution of the states: rc/state_depth_<d> shares (every d < turns, 0 included), the mean, the replayed share. */
export function stateMetrics(states: RcState[], turns: number): Record<string, number> {
  const out: Record<string, number> = {};
  const depths = new Set([...Array.from({ length: turns }, (_, d) => d), ...states.map((s) => s.depth)]);
  for (const d of [...depths].sort((a, b) => a - b)) out[`rc/state_depth_${d}`] = states.filter((s) => s.depth === d).length / states.length;
  out["rc/state_depth_mean"] = states.reduce((s, x) => s + x.depth, 0) / states.length;
  out["rc/replay_states"] = states.filter((s) => s.source === "replay").length / states.length;
  return out;
}

/**
 * Reward and zero-variance share of the trained groups by state depth (rc/reward_depth_<d>,
 * rc/zero_std_depth_<d>): which depths carry a learning signal, the first thing to read when the
 * training reward does not rise.
 */
export function depthRewardMetrics(states: RcState[], rewards: Float32Array, K: number, allNull: boolean[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of [...new Set(states.map((s) => s.depth))].sort((a, b) => a - b)) {
    const groups = states.flatMap((s, g) => (s.depth === d ? [g] : []));
    const pick = (g: number) => Array.from({ length: K }, (_, j) => g * K + j);
    const members = groups.flatMap(pick);
    const stats = groupStats(Float32Array.from(members, (i) => rewards[i]), K, members.map((i) => allNull[i]));
    out[`rc/reward_depth_${d}`] = stats.reward;
    out[`rc/zero_std_depth_${d}`] = stats.frac_reward_zero_std;
  }
  return out;
}

/** One RC-RL step: roll out, choose states, sample K per state, score, group advantages, update. */
export async function rcStep(run: RcRun, step: number): Promise<RcStep> {
  const t0 = performance.now();
  const K = run.grpo.num_generations;
  const rowIds = run.order.next(run.config.train.prompts_per_step);
  const rollouts = await rollOut(run, rowIds, step);
  const rolloutMs = performance.now() - t0;
  const states = chooseStates(run, rollouts, step);
  const prompts = states.map((s) => renderTemplate(run.rc.reason_template, { problem: problemText(run.rows[s.row]), summary: s.summary }));
  // the trained completions: K per state, scored as any GRPO group (groupSampler's budget is H_R)
  const r = await rollout(run, states.map((s) => run.rows[s.row]), deriveSeed(run.config.seed, step, COMPLETIONS), prompts);
  const advantages = groupAdvantages(r.total, K, { scale: run.grpo.scale_rewards, allNull: r.allNull });
  const rcMetrics = { ...(await rolloutMetrics(run, rollouts)), ...stateMetrics(states, run.rc.turns), ...depthRewardMetrics(states, r.total, K, r.allNull) };
  const update = run.workers ? await updatePolicySharded(run.workers, run, r, advantages, step) : updatePolicy(run, r, advantages, step);
  pushReplay(run, rollouts);
  if (run.completionsDir && (step + 1) % run.config.train.completions_every === 0) writeCompletions(run, r, advantages, step + 1);
  const sampledTokens = r.completions.reduce((s, c) => s + c.tokens.length, 0) + rcMetrics["rc/rollout_tokens"];
  const metrics = stepRecord(run, step, { round: roundMetrics(r, K), update, kept: r, sampledTokens, sampleMs: rolloutMs + r.sampleMs, verifyMs: r.verifyMs, t0 },
    { ...rcMetrics, "rc/groups": states.length, "rc/replay_size": run.replay.length });
  return { metrics, rollouts, states, prompts, completions: r.completions, rewards: r.total, advantages };
}

/**
 * Held-out pass@1 of RC decoding at `turns` turns (eval.k samples per problem, eval.temperature),
 * each turn's reasoning graded by the run's grader (eval.verifier); the last turn's is eval/rc_accuracy.
 */
export async function evaluateRc(run: RcRun, rows: Row[], cfg: HeldOutEvalConfig, turns: number, seed: number): Promise<number[]> {
  const policy = new LocalPolicy(run.config.name, run.model, run.tokenizer, SamplerConfig.parse({ batch_size: run.sampler.batch_size }), false, run.workers);
  const problems = rows.map((row, key) => ({ problem: problemText(row), key }));
  const transcripts = await runReasoningCache({ policy, problems, config: loopConfig(run.rc, turns), sampling: { n: cfg.k, temperature: cfg.temperature, top_p: 1, seed } });
  const byTurn: number[] = [];
  for (let t = 0; t < turns; t++) {
    const perProblem = await Promise.all(transcripts.map(async (samples, i) => {
      const verdicts = await Promise.all(samples.map((s) => run.grader.grade(s.turns[t].reasoning, rows[i])));
      return verdicts.filter((v) => v.correct).length / samples.length;
    }));
    byTurn.push(perProblem.reduce((a, b) => a + b, 0) / Math.max(1, perProblem.length));
  }
  return byTurn;
}

/**
 * The state of an RC run around a model and its optimizer: K = grpo.num_generations, and H_R
 * replaces the sampler's budget and grpo.max_completion_length (groupSampler, groupLoss). `cursor` is a checkpoint's.
 */
export function rcRun(rows: Row[], o: GrpoOptions, model: Transformer, optimizer: AdamW, cursor: RcCursor = { epoch: 0, index: 0 }, completionsDir?: string, grader: Grader = mathGrader(), workers?: WorkerPool): RcRun {
  const c = o.config;
  if (!c.rc) throw new Error("rcRun: the config has no rc section");
  const sampler = groupSampler(c);
  return {
    config: c, sampler, grpo: groupLoss(c), model, optimizer, tokenizer: o.tokenizer, verifiers: o.verifiers, rows,
    order: new DataOrder(rows.length, c.seed, { epoch: cursor.epoch, index: cursor.index }),
    reference: c.grpo.beta > 0 ? loadCheckpoint(c.base).model : undefined,
    completionsDir, workers,
    // the rollouts' calls are shared over the ranks as the trained completions are (rollout.ts)
    rc: c.rc, policy: new LocalPolicy(c.name, model, o.tokenizer, sampler, false, workers), replay: [...(cursor.rc_replay ?? [])], grader,
  };
}

/** What a checkpoint's data cursor holds for an RC run: the data order and the replay buffer. */
export const RcCursor = DataCursor.extend({
  rc_replay: z.array(z.strictObject({ row: z.int().min(0), summary: z.string(), turn: z.int().min(0) })).optional(),
});
export type RcCursor = z.infer<typeof RcCursor>;

/**
 * Runs RC-RL from a base checkpoint (or the run's newest checkpoint with `resume`). K is
 * grpo.num_generations; H_R replaces the sampler budget and grpo.max_completion_length.
 */
export async function runRcGrpo(rows: Row[], o: GrpoOptions): Promise<{ runDir: string; step: number }> {
  const c = o.config;
  const rc = c.rc;
  if (!rc) throw new Error("runRcGrpo: the config has no rc section");
  const start = startGrpoRun<RcCursor>(o, { epoch: 0, index: 0 }, RcCursor);
  if (start.resumedFrom) o.log(`resuming ${c.name} from ${start.resumedFrom} (step ${start.step}, ${start.cursor.rc_replay?.length ?? 0} summaries in the replay buffer)`);
  const { dir } = start;
  let grader: Grader;
  try {
    grader = await loadGrader(c.eval.verifier);
  } catch (e) {
    disposeRun(start);
    throw e;
  }
  let workers: WorkerPool | undefined;
  try {
    const ranks = rankCount(c.train.workers);
    if (ranks > 1) workers = await WorkerPool.start(start.model, { workers: ranks, grpo: groupLoss(c), referenceBase: c.grpo.beta > 0 ? c.base : undefined });
  } catch (e) {
    disposeRun(start);
    await grader.close();
    throw e;
  }
  if (workers) o.onWorkers?.(workers, start.model);
  const run = rcRun(rows, o, start.model, start.optimizer, start.cursor, completionsDirOf(c, dir), grader, workers);
  const evalTurns = rc.eval_turns || rc.turns;
  const step = await disposingAfter(run, async () => {
    // every problem must fit the context bound before step 0, not when the data order reaches it
    checkContext(rows.map((r, key) => ({ problem: problemText(r), key })), loopConfig(rc), run.policy);
    if (o.evalRows?.length && c.train.eval_every > 0) checkContext(o.evalRows.map((r, key) => ({ problem: problemText(r), key })), loopConfig(rc, evalTurns), run.policy);
    return grpoLoop(o, start, {
      step: async (s) => (await rcStep(run, s)).metrics,
      evaluate: (s, record) => evaluateBoth(run, o, s, record, evalTurns),
      line: (r, s) => progressLine(r, s, c.train.steps, rc.turns),
      cursor: (): RcCursor => ({ ...run.order.cursor, rc_replay: run.replay }),
    });
  }).finally(async () => {
    await workers?.close();
    await grader.close();
  });
  return { runDir: dir.path, step };
}

/** Held-out pass@1 of plain decoding (eval/accuracy) and of RC decoding by turn (eval/rc_accuracy*). */
async function evaluateBoth(run: RcRun, o: GrpoOptions, step: number, record: Record<string, number>, evalTurns: number): Promise<void> {
  const { eval: cfg, seed } = o.config;
  const sharded = run.workers && shardedGroupSampler(run.workers, run.model, o.tokenizer);
  const acc = await evaluateAccuracy(run.model, o.tokenizer, o.evalRows!, cfg, deriveSeed(seed, step, 0xe7a1), sharded);
  record["eval/accuracy"] = acc.pass1;
  record[`eval/pass@${acc.k}`] = acc.passK;
  const byTurn = await evaluateRc(run, o.evalRows!, cfg, evalTurns, deriveSeed(seed, step, 0xe7a2));
  record["eval/rc_accuracy"] = byTurn[byTurn.length - 1];
  byTurn.forEach((a, t) => (record[`eval/rc_accuracy_turn_${t + 1}`] = a));
}

function progressLine(r: Record<string, number>, step: number, steps: number, turns: number): string {
  const fixed = (v: number | undefined, d: number) => (v === undefined ? "-" : v.toFixed(d));
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const evalPart = r["eval/accuracy"] === undefined ? "" : `  eval/accuracy ${pct(r["eval/accuracy"])}  eval/rc_accuracy ${pct(r["eval/rc_accuracy"])}`;
  return `step ${step}/${steps}  reward ${fixed(r.reward, 3)}  loss ${fixed(r.loss, 4)}  grad_norm ${fixed(r.grad_norm, 3)}  rc/accuracy_turn_${turns} ${pct(r[`rc/accuracy_turn_${turns}`])}  depth ${fixed(r["rc/state_depth_mean"], 2)}${evalPart}  ${r.step_time.toFixed(1)} s/step`;
}
