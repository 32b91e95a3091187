/**
 * A held-out evaluation set that shares no problem with another: the rows of one synthetic spec
 * whose problem text does not occur in the other (the split a recipe was tuned on), the first
 * `--count` of them, as JSONL for `rlvr eval --dataset`. Test splits are disjoint from train by
 * construction, but two seeds of a small task's test split overlap (countdown level 1: 60 of 200).
 *
 *   npx tsx scripts/disjoint-split.ts "synthetic:countdown?level=1&count=400&seed=7" \
 *     --exclude "synthetic:countdown?level=1&count=200&seed=2" --count 200 --out docs/rl-teaches/countdown-final.jsonl
 */
import fs from "node:fs";
import path from "node:path";
import type { Row } from "../datasets/row.ts";
import { generate, syntheticConfigFromSpec } from "../datasets/synthetic/index.ts";

const rowsOf = (spec: string) => generate(syntheticConfigFromSpec(spec, /[?&]split=/.test(spec) ? {} : { split: "test" }));

/** The first `count` rows of `spec` whose problem is in none of `exclude`. */
export function disjointRows(spec: string, exclude: string[], count: number): { rows: Row[]; excluded: number } {
  const seen = new Set(exclude.flatMap((e) => rowsOf(e).map((r) => r.problem)));
  const all = rowsOf(spec);
  const kept = all.filter((r) => !seen.has(r.problem));
  if (kept.length < count) throw new Error(`only ${kept.length} rows are left after the exclusions; ask the spec for more`);
  return { rows: kept.slice(0, count), excluded: all.length - kept.length };
}

function main(argv: string[]): void {
  const flag = (name: string) => {
    const at = argv.indexOf(name);
    if (at < 0 || at + 1 >= argv.length) throw new Error(`usage: disjoint-split.ts <spec> --exclude <spec> [--exclude <spec>] --count N --out file.jsonl (missing ${name})`);
    return argv[at + 1];
  };
  const { rows, excluded } = disjointRows(argv[0], argv.flatMap((a, i) => (a === "--exclude" ? [argv[i + 1]] : [])), Number(flag("--count")));
  const out = flag("--out");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  console.log(`${out}: ${rows.length} rows (${excluded} of the spec's rows were excluded)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main(process.argv.slice(2));
