/**
 * Sharpening or teaching (README "RL that teaches"): held-out pass@k for k = 1 … n of a base and of
 * its trained policy on one chart, as Yue et al. (2025) plot it, from two `rlvr eval` results files
 * (.jsonl or .jsonl.gz) of n samples per problem; pass@k is the unbiased estimator
 * 1 − C(n − c, k) / C(n, k) averaged over problems. RL that only sharpens lifts pass@1 and leaves
 * pass@n where it was (or lowers it); RL that teaches solves problems the base never solved.
 *
 *   npx tsx scripts/plot-passk.ts --out docs/passk.svg \
 *     "arith=docs/grpo-arith/base.k64.jsonl.gz,docs/grpo-arith/trained.k64.jsonl.gz" "countdown=…,…"
 *
 * Writes the SVG and prints a Markdown table of pass@k at powers of two, and for each task how many
 * problems the trained policy solved that the base never did in its n samples, and the reverse.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { passAtK } from "../trainer/eval/metrics.ts";
import { legendPair, plotMain } from "./plot-cli.ts";

/** The samples of a results file (.jsonl or .jsonl.gz). */
export function readResults(file: string): { index: number; correct: boolean; [field: string]: unknown }[] {
  const raw = fs.readFileSync(file);
  const text = file.endsWith(".gz") ? zlib.gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  return text.trim().split("\n").map((line) => JSON.parse(line));
}

/** Correct samples out of n, per problem (by results index). */
export function correctCounts(file: string): { n: number; correct: Map<number, number> } {
  const samples = new Map<number, number>();
  const correct = new Map<number, number>();
  for (const r of readResults(file)) {
    samples.set(r.index, (samples.get(r.index) ?? 0) + 1);
    correct.set(r.index, (correct.get(r.index) ?? 0) + (r.correct ? 1 : 0));
  }
  const ns = new Set(samples.values());
  if (ns.size !== 1) throw new Error(`${file}: problems have different sample counts (${[...ns].join(", ")})`);
  return { n: [...ns][0], correct };
}

export interface PassCurve {
  label: string;
  n: number;
  /** pass@k for k = 1 … n, base then trained. */
  base: number[];
  trained: number[];
  problems: number;
  /** Problems solved by the trained policy in n samples and never by the base, and the reverse. */
  onlyTrained: number;
  onlyBase: number;
}

export function passCurve(label: string, baseFile: string, trainedFile: string): PassCurve {
  const [b, t] = [correctCounts(baseFile), correctCounts(trainedFile)];
  if (b.n !== t.n || b.correct.size !== t.correct.size) throw new Error(`${label}: the two files differ in samples per problem or in problems`);
  const curve = (r: typeof b) => Array.from({ length: r.n }, (_, k) => [...r.correct.values()].reduce((s, c) => s + passAtK(r.n, c, k + 1), 0) / r.correct.size);
  const solved = (r: typeof b, i: number) => (r.correct.get(i) ?? 0) > 0;
  const ids = [...b.correct.keys()];
  return {
    label, n: b.n, base: curve(b), trained: curve(t), problems: ids.length,
    onlyTrained: ids.filter((i) => solved(t, i) && !solved(b, i)).length,
    onlyBase: ids.filter((i) => solved(b, i) && !solved(t, i)).length,
  };
}

const pct = (x: number) => (100 * x).toFixed(1);
const powers = (n: number) => Array.from({ length: Math.floor(Math.log2(n)) + 1 }, (_, i) => 2 ** i);

export function passTable(curves: PassCurve[]): string {
  const ks = powers(Math.min(...curves.map((c) => c.n)));
  const lines = [`| k | ${curves.map((c) => `${c.label} base | ${c.label} trained`).join(" | ")} |`, `|---|${curves.map(() => "---|---|").join("")}`];
  for (const k of ks) lines.push(`| ${k} | ${curves.map((c) => `${pct(c.base[k - 1])} | ${pct(c.trained[k - 1])}`).join(" | ")} |`);
  const counts = curves.map((c) => `${c.label}: of ${c.problems} problems, ${c.onlyTrained} solved by the trained policy in ${c.n} samples and never by the base; ${c.onlyBase} the reverse`);
  return [...lines, "", ...counts].join("\n");
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/** pass@k against k on a log2 axis: the base dashed, the trained policy solid, one colour per task. */
export function passSvg(curves: PassCurve[], title: string): string {
  const W = 780, H = 400, L = 60, R = 250, T = 40, B = 50;
  const n = Math.max(...curves.map((c) => c.n));
  const x = (k: number) => L + (Math.log2(k) / Math.log2(n)) * (W - L - R);
  const y = (p: number) => T + (1 - p) * (H - T - B);
  const pts = (ps: number[]) => ps.map((p, i) => `${x(i + 1).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${(L + W - R) / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>`];
  for (let g = 0; g <= 10; g += 2) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(g / 10)}" y2="${y(g / 10)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(g / 10) + 4}" text-anchor="end">${g * 10}%</text>`);
  }
  for (const k of powers(n)) out.push(`<text x="${x(k)}" y="${H - B + 18}" text-anchor="middle">${k}</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">k (samples per problem)</text>`,
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`, `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`);
  curves.forEach((c, i) => {
    const col = COLORS[i % COLORS.length];
    out.push(`<polyline fill="none" stroke="${col}" stroke-width="1.5" stroke-dasharray="5 3" points="${pts(c.base)}"/>`,
      `<polyline fill="none" stroke="${col}" stroke-width="2.5" points="${pts(c.trained)}"/>`);
    const ly = T + 10 + i * 40;
    out.push(...legendPair(W - R, ly, col, { solid: `${c.label}: after RL`, dashed: `${c.label}: base`, width: 2.5, dash: "5 3" }));
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function main(argv: string[]): void {
  plotMain(argv, {
    script: "plot-passk.ts", files: "<base results>,<trained results>", defaultTitle: "Held-out pass@k, base (dashed) and after RL (solid), unbiased estimator",
    read: passCurve, svg: passSvg, report: passTable,
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main(process.argv.slice(2));
