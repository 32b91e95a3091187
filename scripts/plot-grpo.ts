/**
 * The GRPO headline picture (README.md "The GRPO headline"): held-out pass@1 by step, and the
 * training batches' math reward (a 10-step moving mean), for one or more runs, read from their
 * `metrics.jsonl`; step 0 is the base model's pass@1 from an `rlvr eval` summary JSON.
 *
 *   npx tsx scripts/plot-grpo.ts --out docs/grpo-arith.svg \
 *     "label-smoothed base=runs/grpo-arith,base-ls.summary.json" "plain base=runs/grpo-arith-plain,base.summary.json"
 *
 * Writes the SVG and prints a Markdown table of pass@1 by evaluated step, one column per run.
 * `--reward rewards/countdown/mean` draws another verifier's batch reward (default the math one).
 */
import fs from "node:fs";
import path from "node:path";
import { legendPair, plotMain } from "./plot-cli.ts";

export interface RunCurve {
  label: string;
  /** [step, held-out pass@1]; step 0 is the base. */
  accuracy: [number, number][];
  /** [step, moving mean of rewards/<verifier>/mean over the last `window` steps]. */
  reward: [number, number][];
  /** Wall-clock minutes of the steps, evaluations excluded (sum of step_time). */
  stepMinutes: number;
}

/** One run's curves from its metrics.jsonl and its base's eval summary. */
export function readRun(label: string, runDir: string, baseSummary: string, rewardKey = "rewards/math/mean", window = 10): RunCurve {
  const records = fs.readFileSync(path.join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
  const base = JSON.parse(fs.readFileSync(baseSummary, "utf8")) as { overall: { "pass@1": number } };
  const accuracy: [number, number][] = [[0, base.overall["pass@1"]]];
  for (const r of records) if (r["eval/accuracy"] !== undefined) accuracy.push([r.step, r["eval/accuracy"]]);
  const reward: [number, number][] = records.map((r, i) => {
    const last = records.slice(Math.max(0, i - window + 1), i + 1).map((x) => x[rewardKey] ?? 0);
    return [r.step, last.reduce((a, b) => a + b, 0) / last.length];
  });
  return { label, accuracy, reward, stepMinutes: records.reduce((s, r) => s + (r.step_time ?? 0), 0) / 60 };
}

const pct = (x: number) => (100 * x).toFixed(1);

/** Markdown: one row per evaluated step, one pass@1 column per run. */
export function accuracyTable(runs: RunCurve[]): string {
  const steps = [...new Set(runs.flatMap((r) => r.accuracy.map(([s]) => s)))].sort((a, b) => a - b);
  const lines = [`| step | ${runs.map((r) => `${r.label}: pass@1 %`).join(" | ")} |`, `|---|${runs.map(() => "---|").join("")}`];
  for (const s of steps) lines.push(`| ${s === 0 ? "0 (base)" : s} | ${runs.map((r) => { const a = r.accuracy.find(([x]) => x === s); return a ? pct(a[1]) : "—"; }).join(" | ")} |`);
  return lines.join("\n");
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/** Held-out pass@1 (solid, dots) and moving-mean training reward (thin, dashed) against the step. */
export function curvesSvg(runs: RunCurve[], title: string): string {
  const W = 780, H = 400, L = 60, R = 300, T = 40, B = 50;
  const maxStep = Math.max(1, ...runs.flatMap((r) => [...r.accuracy, ...r.reward].map(([s]) => s)));
  const x = (s: number) => L + (s / maxStep) * (W - L - R);
  const y = (p: number) => T + (1 - p) * (H - T - B);
  const pts = (xs: [number, number][]) => xs.map(([s, p]) => `${x(s).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${(L + W - R) / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>`];
  for (let g = 0; g <= 10; g += 2) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(g / 10)}" y2="${y(g / 10)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(g / 10) + 4}" text-anchor="end">${g * 10}%</text>`);
  }
  const tick = maxStep <= 100 ? 25 : 50;
  for (let s = 0; s <= maxStep; s += tick) out.push(`<text x="${x(s)}" y="${H - B + 18}" text-anchor="middle">${s}</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">GRPO step</text>`,
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`, `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`,
    `<line x1="${L}" x2="${W - R}" y1="${y(0.5)}" y2="${y(0.5)}" stroke="#888" stroke-dasharray="2 3"/>`, `<text x="${W - R - 4}" y="${y(0.5) - 5}" text-anchor="end" fill="#666">target 50%</text>`);
  runs.forEach((r, i) => {
    const c = COLORS[i % COLORS.length];
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="1" stroke-dasharray="4 3" points="${pts(r.reward)}"/>`,
      `<polyline fill="none" stroke="${c}" stroke-width="2.5" points="${pts(r.accuracy)}"/>`);
    for (const [s, p] of r.accuracy) out.push(`<circle cx="${x(s).toFixed(1)}" cy="${y(p).toFixed(1)}" r="3.5" fill="${c}"/>`);
    const ly = T + 10 + i * 40;
    out.push(...legendPair(W - R, ly, c, { solid: `${r.label}: held-out pass@1`, dashed: `${r.label}: batch reward`, width: 2.5, dash: "4 3" }));
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function main(argv: string[]): void {
  // --reward <metric>: the batch reward to draw (default rewards/math/mean; rewards/countdown/mean for countdown)
  const at = argv.indexOf("--reward");
  const rewardKey = at >= 0 ? argv[at + 1] : "rewards/math/mean";
  if (at >= 0) argv = argv.filter((_, i) => i !== at && i !== at + 1);
  plotMain(argv, {
    script: "plot-grpo.ts", files: "<run dir>,<base eval summary>", defaultTitle: "GRPO on arith levels 1-2: held-out pass@1 at T = 1.0",
    read: (label, runDir, baseSummary) => readRun(label, runDir, baseSummary, rewardKey), svg: curvesSvg,
    report: (runs) => [accuracyTable(runs), ...runs.map((r) => `${r.label}: ${r.stepMinutes.toFixed(1)} min of steps (evaluations excluded)`)].join("\n"),
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main(process.argv.slice(2));
