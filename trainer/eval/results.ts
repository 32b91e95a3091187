/**
 * The per-sample results file of an evaluation (JSONL, one graded sample per line) and its
 * settings file (`<out>.config.json`). A problem's k lines are appended in one write once all of
 * them are graded, so after a crash the file holds whole problems plus at most one torn tail, which
 * `--resume` cuts off before carrying on: nothing is duplicated or lost. A problem with a sample that
 * failed to be drawn (an endpoint error) is dropped too, so a resume asks for it again.
 */
import fs from "node:fs";
import path from "node:path";
import type { SampleResult } from "./metrics.ts";
import { UserError } from "../../datasets/user-error.ts";

/** Everything that decides which samples an evaluation draws; a resume must match it. */
export interface EvalSettings {
  dataset: string;
  model: string;
  k: number;
  temperature: number;
  top_p: number;
  max_tokens: number;
  template: string;
  seed: number;
  api: string;
  /** The grading verifier when it is not math (absent: math, as in results written before it existed). */
  verifier?: string;
}

export class ResultsError extends UserError {
  override name = "ResultsError";
}

export const configPathOf = (out: string) => out.replace(/\.jsonl$/, "") + ".config.json";
export const summaryPathOf = (out: string) => out.replace(/\.jsonl$/, "") + ".summary.json";

/**
 * Opens `out` for a fresh run (it must not exist) or a resumed one (its settings must match);
 * returns the complete problems already there, after cutting off anything partial.
 */
export function openResults(out: string, settings: EvalSettings, resume: boolean, ids: string[]): SampleResult[] {
  const configFile = configPathOf(out);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(out, "");
    fs.writeFileSync(configFile, JSON.stringify(settings, null, 2) + "\n");
    return [];
  }
  if (!resume) throw new ResultsError(`${out} already exists: pass --resume to continue that evaluation, or choose another --out`);
  checkSettings(configFile, settings);
  const { kept, dropped } = completeProblems(out, settings.k, ids);
  if (dropped) writeAtomically(out, kept.map((r) => JSON.stringify(r) + "\n").join(""));
  return kept;
}

function checkSettings(configFile: string, settings: EvalSettings): void {
  if (!fs.existsSync(configFile)) throw new ResultsError(`${configFile} is missing, so the results cannot be resumed safely; choose another --out`);
  const saved = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, unknown>;
  for (const [key, value] of Object.entries(settings)) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(value)) {
      throw new ResultsError(`--resume: ${key} was ${JSON.stringify(saved[key])} in ${configFile} but is ${JSON.stringify(value)} now; resume with the same settings or choose another --out`);
    }
  }
}

/** The lines of problems with all k samples drawn; a torn last line, a partial problem or one with an errored sample is dropped. */
function completeProblems(out: string, k: number, ids: string[]): { kept: SampleResult[]; dropped: number } {
  const text = fs.readFileSync(out, "utf8");
  const lines = text.split("\n");
  const torn = lines.pop() !== "" ? 1 : 0; // text not ending in "\n" ends in a torn line
  const byIndex = new Map<number, SampleResult[]>();
  lines.forEach((line, i) => {
    let r: SampleResult;
    try {
      r = JSON.parse(line);
    } catch {
      throw new ResultsError(`${out}:${i + 1}: not a JSON line; the file was edited or is not a results file`);
    }
    if (ids[r.index] !== r.id) throw new ResultsError(`${out}:${i + 1}: problem ${r.index} is ${JSON.stringify(r.id)} there but ${JSON.stringify(ids[r.index])} in the dataset; resume with the same dataset`);
    byIndex.set(r.index, [...(byIndex.get(r.index) ?? []), r]);
  });
  const kept: SampleResult[] = [];
  let dropped = torn;
  for (const samples of byIndex.values()) {
    const distinct = new Set(samples.map((s) => s.sample));
    if (distinct.size === k && samples.length === k && samples.every((s) => s.error === undefined)) kept.push(...samples);
    else dropped += samples.length;
  }
  return { kept, dropped };
}

/** Appends one problem's graded samples in a single write. */
export function appendProblem(out: string, samples: SampleResult[]): void {
  fs.appendFileSync(out, samples.map((r) => JSON.stringify(r) + "\n").join(""));
}

export function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
