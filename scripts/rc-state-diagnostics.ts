/**
 * Where an RC-RL run's learning signal is (trainer/REASONING-CACHE.md, "Why the training reward does
 * not rise"): reads the completions tables of a run on labeled chains (runs/<name>/completions/*.arrow,
 * one GRPO group = K consecutive rows with one prompt) and sorts every (problem, state) group by
 *
 * - its state: the empty summary, a summary that is the gold equation of its label, or a wrong one;
 * - the operations left after it, and whether one reasoning turn (`--window` equations, 2 by
 *   default) can finish them, i.e. whether a completion of it can earn the reward at all;
 *
 * and counts, per class and per block of steps, the groups, their mean reward and how many have all
 * rewards 0, all 1, or mixed (only mixed groups have a non-zero advantage, so only they teach).
 *
 *   npx tsx scripts/rc-state-diagnostics.ts runs/rc-chain [--window 2] [--block 20]
 */
import fs from "node:fs";
import path from "node:path";
import { readCompletionTable } from "./report/run-data.ts";
import { goldEquations } from "./chain-diagnostics.ts";

export interface StateGroup { step: number; prompt: string; rewards: number[] }

export interface StateClass { groups: number; rewardSum: number; completions: number; allZero: number; allOne: number; mixed: number }

/** `problem\n` or `problem\n<summary>` (the last-step I_R) → the problem and the summary. */
export function splitPrompt(prompt: string): { problem: string; summary: string } {
  const nl = prompt.indexOf("\n");
  return nl < 0 ? { problem: prompt, summary: "" } : { problem: prompt.slice(0, nl), summary: prompt.slice(nl + 1) };
}

/**
 * The class key of a group: `<state>/<operations left>`, with ` (out of reach)` when one window
 * cannot finish them, e.g. `empty/2 left`, `empty/4 left (out of reach)`, `gold/0 left` (only the box
 * remains), `wrong/-`.
 */
export function classify(prompt: string, window: number): string {
  const { problem, summary } = splitPrompt(prompt);
  const gold = goldEquations(problem);
  const d = summary ? gold.indexOf(summary.trim()) + 1 : 0;
  if (summary && d === 0) return "wrong/-";
  const left = gold.length - d;
  return `${summary ? "gold" : "empty"}/${left} left${left > window ? " (out of reach)" : ""}`;
}

/** Groups of K consecutive rows sharing a prompt, in table order. */
export function groupsOf(rows: { step: number; prompt: string; reward: number | null }[]): StateGroup[] {
  const out: StateGroup[] = [];
  for (const r of rows) {
    const last = out.at(-1);
    if (last && last.step === r.step && last.prompt === r.prompt) last.rewards.push(r.reward ?? 0);
    else out.push({ step: r.step, prompt: r.prompt, rewards: [r.reward ?? 0] });
  }
  return out;
}

/** Counts per `<block start>` → class → StateClass; block = steps per block. */
export function tally(groups: StateGroup[], window: number, block: number): Map<number, Map<string, StateClass>> {
  const out = new Map<number, Map<string, StateClass>>();
  for (const g of groups) {
    const b = Math.floor((g.step - 1) / block) * block + 1;
    const classes = out.get(b) ?? out.set(b, new Map()).get(b)!;
    const key = classify(g.prompt, window);
    const c = classes.get(key) ?? classes.set(key, { groups: 0, rewardSum: 0, completions: 0, allZero: 0, allOne: 0, mixed: 0 }).get(key)!;
    c.groups++;
    c.rewardSum += g.rewards.reduce((a, x) => a + x, 0);
    c.completions += g.rewards.length;
    // a constant group other than all 0 or all 1 (partial rewards) is counted in groups only
    if (!g.rewards.every((x) => x === g.rewards[0])) c.mixed++;
    else if (g.rewards[0] === 0) c.allZero++;
    else if (g.rewards[0] === 1) c.allOne++;
  }
  return out;
}

export function report(t: Map<number, Map<string, StateClass>>, block: number): string {
  const lines = ["steps | state/ops left | groups (share) | mean reward | all 0 | all 1 | mixed (teach)"];
  for (const [b, classes] of [...t].sort((x, y) => x[0] - y[0])) {
    const total = [...classes.values()].reduce((a, c) => a + c.groups, 0);
    for (const [key, c] of [...classes].sort()) {
      const pct = (n: number) => `${((100 * n) / c.groups).toFixed(0)}%`;
      lines.push(`${b}-${b + block - 1} | ${key} | ${c.groups} (${((100 * c.groups) / total).toFixed(0)}%) | ${(c.rewardSum / c.completions).toFixed(3)} | ${pct(c.allZero)} | ${pct(c.allOne)} | ${pct(c.mixed)}`);
    }
  }
  return lines.join("\n");
}

function main(argv: string[]): void {
  const run = argv[0];
  if (!run) throw new Error("usage: rc-state-diagnostics.ts <run dir> [--window 2] [--block 20]");
  const opt = (name: string, d: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : d);
  const [window, block] = [opt("--window", 2), opt("--block", 20)];
  const dir = path.join(run, "completions");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".arrow")).sort();
  const groups = files.flatMap((f) => groupsOf(readCompletionTable(path.join(dir, f)).rows));
  console.log(report(tally(groups, window, block), block));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main(process.argv.slice(2));
