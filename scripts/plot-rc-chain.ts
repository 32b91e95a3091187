/**
 * The "Result on chain" table and plot (trainer/REASONING-CACHE.md): pass@1 by number of RC turns
 * against plain decoding, for one or more models, read from `rlvr eval` summary JSONs.
 *
 *   npx tsx scripts/plot-rc-chain.ts --out docs/rc-chain.svg \
 *     "SFT=runs/eval/sft-plain.summary.json,runs/eval/sft-rc.summary.json" "SFT + RC-RL=…,…"
 *
 * Each argument is `label=<plain summary>,<rc summary>`. Writes the SVG and prints a Markdown table:
 * one row for plain decoding and one per turn t (the answer read after turn t of the RC run's
 * `rc.accuracy_by_turn`), one column per model, with 95% Wilson intervals over the problems.
 */
import fs from "node:fs";
import path from "node:path";
import { wilson } from "../trainer/eval/metrics.ts";
import { legendPair, plotMain } from "./plot-cli.ts";

export interface ModelResult {
  label: string;
  /** Plain decoding pass@1 and the problems it was measured on. */
  plain: number;
  plainN: number;
  /** RC pass@1 after turn t (index t−1). */
  byTurn: number[];
  rcN: number;
}

interface SummaryJson { n_problems: number; overall: { "pass@1": number }; rc?: { accuracy_by_turn: number[] } }

/** One model's numbers from its plain and RC summary files. */
export function readResult(label: string, plainFile: string, rcFile: string): ModelResult {
  const plain = JSON.parse(fs.readFileSync(plainFile, "utf8")) as SummaryJson;
  const rc = JSON.parse(fs.readFileSync(rcFile, "utf8")) as SummaryJson;
  if (!rc.rc) throw new Error(`${rcFile}: not an RC evaluation (no rc section)`);
  return { label, plain: plain.overall["pass@1"], plainN: plain.n_problems, byTurn: rc.rc.accuracy_by_turn, rcN: rc.n_problems };
}

const pct = (x: number) => (100 * x).toFixed(1);
const withCi = (p: number, n: number) => { const [lo, hi] = wilson(p, n); return `${pct(p)} (${pct(lo)}–${pct(hi)})`; };

/** Markdown table: plain, then RC after each turn; pass@1 % with 95% CI. */
export function resultTable(models: ModelResult[]): string {
  const turns = Math.max(...models.map((m) => m.byTurn.length));
  const lines = [`| decoding | ${models.map((m) => `${m.label}: pass@1 % (95% CI)`).join(" | ")} |`, `|---|${models.map(() => "---|").join("")}`];
  lines.push(`| plain (whole context) | ${models.map((m) => withCi(m.plain, m.plainN)).join(" | ")} |`);
  for (let t = 0; t < turns; t++) lines.push(`| RC, T = ${t + 1} | ${models.map((m) => (t < m.byTurn.length ? withCi(m.byTurn[t], m.rcN) : "—")).join(" | ")} |`);
  return lines.join("\n");
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/** A line chart: RC pass@1 by turn (with 95% CI bars) per model, plain decoding as a dashed line. */
export function resultSvg(models: ModelResult[], title: string): string {
  const W = 700, H = 400, L = 60, R = 240, T = 40, B = 50;
  const turns = Math.max(...models.map((m) => m.byTurn.length));
  const x = (t: number) => L + ((t - 1) / Math.max(1, turns - 1)) * (W - L - R);
  const y = (p: number) => Math.round(10 * (T + (1 - p) * (H - T - B))) / 10;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2 - R / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>`];
  for (let g = 0; g <= 10; g += 2) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(g / 10)}" y2="${y(g / 10)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(g / 10) + 4}" text-anchor="end">${g * 10}%</text>`);
  }
  for (let t = 1; t <= turns; t++) out.push(`<text x="${x(t)}" y="${H - B + 18}" text-anchor="middle">${t}</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">RC turns T (answer read after turn T)</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">pass@1</text>`,
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`, `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`);
  models.forEach((m, i) => {
    const c = COLORS[i % COLORS.length];
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(m.plain)}" y2="${y(m.plain)}" stroke="${c}" stroke-dasharray="6 4"/>`);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${m.byTurn.map((p, t) => `${x(t + 1).toFixed(1)},${y(p).toFixed(1)}`).join(" ")}"/>`);
    m.byTurn.forEach((p, t) => {
      const [lo, hi] = wilson(p, m.rcN);
      out.push(`<line x1="${x(t + 1)}" x2="${x(t + 1)}" y1="${y(lo).toFixed(1)}" y2="${y(hi).toFixed(1)}" stroke="${c}"/>`, `<circle cx="${x(t + 1).toFixed(1)}" cy="${y(p).toFixed(1)}" r="3" fill="${c}"/>`);
    });
    const ly = T + 10 + i * 40;
    out.push(...legendPair(W - R, ly, c, { solid: `${m.label}: RC`, dashed: `${m.label}: plain`, width: 2, dash: "6 4" }));
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function main(argv: string[]): void {
  plotMain(argv, {
    script: "plot-rc-chain.ts", files: "<plain summary>,<rc summary>", defaultTitle: "chain, 8 operations (4x the training horizon)",
    read: readResult, svg: resultSvg, report: resultTable,
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main(process.argv.slice(2));
