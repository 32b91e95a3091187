/**
 * Where countdown samples go wrong (README "RL that teaches"): reads `rlvr eval` results files and
 * counts, per file, the verifier's reasons (correct, wrong_value, wrong_numbers, …) and how often
 * the working is right: every `a op b=c.` equation a sample writes is checked by exact arithmetic.
 * pass@1 cannot tell a policy that computes badly from one that picks badly; these counts can.
 *
 *   npx tsx scripts/countdown-diagnostics.ts docs/rl-teaches/countdown-base.k64.jsonl.gz …
 */
import path from "node:path";
import { readResults } from "./plot-passk.ts";

export interface CountdownDiagnostics {
  samples: number;
  reasons: Record<string, number>;
  equations: number;
  equationsRight: number;
}

/** Whether `a op b = c` holds exactly (a division must come out whole). */
export function equationHolds(a: number, op: string, b: number, c: number): boolean {
  if (op === "+") return a + b === c;
  if (op === "-") return a - b === c;
  if (op === "*") return a * b === c;
  return b !== 0 && a === b * c;
}

export function diagnose(results: { completion: string; reason: string }[]): CountdownDiagnostics {
  const d: CountdownDiagnostics = { samples: results.length, reasons: {}, equations: 0, equationsRight: 0 };
  for (const r of results) {
    d.reasons[r.reason] = (d.reasons[r.reason] ?? 0) + 1;
    for (const m of r.completion.matchAll(/(-?\d+)([-+*/])(\d+)=(-?\d+)\./g)) {
      d.equations++;
      if (equationHolds(Number(m[1]), m[2], Number(m[3]), Number(m[4]))) d.equationsRight++;
    }
  }
  return d;
}

const pct = (x: number, n: number) => `${((100 * x) / Math.max(1, n)).toFixed(1)}%`;

function main(files: string[]): void {
  const reasons = ["correct", "wrong_value", "wrong_numbers", "unparseable", "no_answer"];
  console.log(`| file | samples | ${reasons.join(" | ")} | working equations right |`);
  console.log(`|---|---|${reasons.map(() => "---|").join("")}---|`);
  for (const f of files) {
    const d = diagnose(readResults(f) as unknown as { completion: string; reason: string }[]);
    console.log(`| ${path.basename(f)} | ${d.samples} | ${reasons.map((r) => pct(d.reasons[r] ?? 0, d.samples)).join(" | ")} | ${pct(d.equationsRight, d.equations)} of ${d.equations} |`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main(process.argv.slice(2));
