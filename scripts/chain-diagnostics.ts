/**
 * Where samples on labeled chains go wrong (trainer/REASONING-CACHE.md, "Result on chain"): reads an
 * `rlvr eval` results file (plain or `--decoding rc`) and its `.config.json`, rebuilds the problems
 * from the synthetic dataset spec, and compares every written equation with the gold one by label.
 *
 *   npx tsx scripts/chain-diagnostics.ts runs/eval-rc/x-rc.jsonl
 *
 * pass@1 alone cannot tell a lucky box from a solved chain; these counts can:
 * - equations correct / written (by label; an equation for a label the chain lacks counts as wrong);
 * - mean correct prefix: how many operations from the first are all right, in the text the sample
 *   wrote (RC: the turns' reasoning joined, so a wrong summary shows up as a break);
 * - solved through correct equations: correct answer and every equation right;
 * - RC only: summaries s_1.. that are exactly the gold equation of the last label the previous turn wrote,
 *   and those that copy the previous turn's last equation, right or wrong (a faithful summarizer);
 * - RC only, by depth d: turns that resume from a gold summary of operation d and write operation
 *   d + 1 right first (how well the policy resumes, apart from its summaries and earlier turns).
 */
import fs from "node:fs";
import path from "node:path";
import type { Row } from "../datasets/row.ts";
import { CHAIN_LABELS } from "../datasets/synthetic/chain.ts";
import { loadEvalRows } from "./commands/eval.ts";
import { configPathOf } from "../trainer/eval/results.ts";

const SPELLED: Record<string, string> = { double: "*2", triple: "*3", halve: "/2" };

/** The gold labeled equations (`a:7+3=10.`) of a labeled chain problem, compact or spelled out. */
export function goldEquations(problem: string): string[] {
  const m = /^Start at (-?\d+); (.+)\. Result\?$/.exec(problem);
  if (!m) throw new Error(`not a labeled chain problem: ${problem}`);
  const ops = m[2].includes(";") || m[2].includes(":") ? m[2].split("; ").map(spelledOp) : m[2].split(" ").map((o) => [o[0], o.slice(1)]);
  let v = Number(m[1]);
  return ops.map(([label, key], i) => {
    if (label !== CHAIN_LABELS[i]) throw new Error(`operation ${i + 1} of "${problem}" is labeled ${label}`);
    const next = apply(v, key);
    const eq = `${label}:${v}${key}=${next}.`;
    v = next;
    return eq;
  });
}

function spelledOp(op: string): [string, string] {
  const [label, words] = [op[0], op.slice(2)];
  const add = /^(add|sub) (\d)$/.exec(words);
  return [label, add ? `${add[1] === "add" ? "+" : "-"}${add[2]}` : SPELLED[words]];
}

function apply(v: number, key: string): number {
  const n = Number(key.slice(1));
  switch (key[0]) {
    case "+": return v + n;
    case "-": return v - n;
    case "*": return v * n;
    default: return v / n;
  }
}

/** Labeled equations written in a text, in order: [label, the whole equation]. */
export const writtenEquations = (text: string): [string, string][] =>
  [...text.matchAll(/([a-zA-Z]):-?\d+[-+*/]\d+=-?\d+\./g)].map((m) => [m[1], m[0]]);

export interface ChainDiagnostics {
  samples: number;
  equationsWritten: number;
  equationsCorrect: number;
  meanCorrectPrefix: number;
  chainLength: number;
  solvedThroughEquations: number;
  correct: number;
  /** RC only: summaries after turn 1 that are the gold equation of the previous turn's last label. */
  summaries?: { exact: number; faithful: number; total: number };
  /** RC only: depth of a gold summary → turns resuming from it, and those whose first equation is right. */
  resumes?: Map<number, { turns: number; right: number }>;
}

interface SampleRecord { index: number; correct: boolean; completion: string; turns?: { summary: string; reasoning: string }[] }

export function diagnose(records: SampleRecord[], problems: string[]): ChainDiagnostics {
  const d: ChainDiagnostics = { samples: 0, equationsWritten: 0, equationsCorrect: 0, meanCorrectPrefix: 0, chainLength: 0, solvedThroughEquations: 0, correct: 0 };
  let prefixSum = 0;
  for (const r of records) {
    const gold = goldEquations(problems[r.index]);
    const byLabel = new Map(gold.map((e) => [e[0], e]));
    const text = r.turns ? r.turns.map((t) => t.reasoning).join(" ") : r.completion;
    const written = writtenEquations(text);
    const right = written.filter(([l, e]) => byLabel.get(l) === e).length;
    let prefix = 0;
    while (prefix < gold.length && written[prefix]?.[1] === gold[prefix]) prefix++;
    d.samples++;
    d.equationsWritten += written.length;
    d.equationsCorrect += right;
    prefixSum += prefix;
    d.chainLength = Math.max(d.chainLength, gold.length);
    if (r.correct) d.correct++;
    if (r.correct && prefix === gold.length) d.solvedThroughEquations++;
    if (r.turns) {
      d.summaries ??= { exact: 0, faithful: 0, total: 0 };
      d.resumes ??= new Map();
      for (let t = 1; t < r.turns.length; t++) {
        const depth = gold.indexOf(r.turns[t].summary) + 1;
        if (depth > 0 && depth < gold.length) {
          const c = d.resumes.get(depth) ?? d.resumes.set(depth, { turns: 0, right: 0 }).get(depth)!;
          c.turns++;
          if (writtenEquations(r.turns[t].reasoning)[0]?.[1] === gold[depth]) c.right++;
        }
        const last = writtenEquations(r.turns[t - 1].reasoning).at(-1);
        if (!last) continue;
        d.summaries.total++;
        if (r.turns[t].summary === byLabel.get(last[0])) d.summaries.exact++;
        if (r.turns[t].summary === last[1]) d.summaries.faithful++;
      }
    }
  }
  d.meanCorrectPrefix = d.samples ? prefixSum / d.samples : 0;
  return d;
}

export function report(d: ChainDiagnostics): string {
  const pct = (a: number, b: number) => `${a} / ${b} (${b ? ((100 * a) / b).toFixed(1) : "0.0"}%)`;
  const lines = [
    `samples: ${d.samples}, correct: ${pct(d.correct, d.samples)}, solved through correct equations: ${pct(d.solvedThroughEquations, d.samples)}`,
    `equations correct: ${pct(d.equationsCorrect, d.equationsWritten)}`,
    `mean correct prefix: ${d.meanCorrectPrefix.toFixed(2)} of ${d.chainLength}`,
  ];
  if (d.summaries) {
    lines.push(`summaries that are the gold equation of the previous turn's last label: ${pct(d.summaries.exact, d.summaries.total)}`);
    lines.push(`summaries that copy the previous turn's last equation (right or wrong): ${pct(d.summaries.faithful, d.summaries.total)}`);
  }
  for (const [depth, c] of [...(d.resumes ?? [])].sort((a, b) => a[0] - b[0])) {
    lines.push(`resuming from the gold summary of operation ${depth}: next equation right ${pct(c.right, c.turns)}`);
  }
  return lines.join("\n");
}

async function main(file: string): Promise<void> {
  const config = JSON.parse(fs.readFileSync(configPathOf(file), "utf8")) as { dataset: string; limit?: number };
  const rows: Row[] = await loadEvalRows(config.dataset, { limit: config.limit, "problem-field": "problem", "answer-field": "answer" });
  const records = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as SampleRecord);
  console.log(report(diagnose(records, rows.map((r) => String(r.problem)))));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  if (process.argv.length !== 3) throw new Error("usage: chain-diagnostics.ts <results.jsonl>");
  await main(process.argv[2]);
}
