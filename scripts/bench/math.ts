/**
 * Math verifier throughput on one core: each MATH-500 gold is graded against its solution's
 * boxed answer (a correct completion) and against a perturbed answer (a wrong one). Prints
 * checks/s and the p50/p99 latency of one check, for cold passes (empty parse cache, after the
 * JIT has settled) and warm passes (the cache a training run builds up, since golds repeat
 * across the completions of a group and across epochs). The load average is printed with them:
 * on a busy 2-core host the wall-clock tail is the scheduler's, not the verifier's.
 */
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { clearParseCache } from "../../verifiers/math/equivalence.ts";
import { gradeAnswer } from "../../verifiers/math/index.ts";
import type { BenchOptions } from "./types.ts";

interface Check {
  completion: string;
  gold: string;
  correct: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));
const DATA = resolve(here, "../../../shared/data/math500/test.jsonl");

/** A value-changing edit of an answer: bump its first digit, else append "+1". */
function perturb(answer: string): string {
  const m = /\d/.exec(answer);
  if (!m) return `${answer}+1`;
  return answer.slice(0, m.index) + ((Number(m[0]) + 1) % 10) + answer.slice(m.index + 1);
}

function loadChecks(): Check[] {
  const rows: { answer: string; solution: string }[] = readFileSync(DATA, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  return rows.flatMap((r) => [
    { completion: r.solution, gold: r.answer, correct: true },
    { completion: `So the result is $\\boxed{${perturb(r.answer)}}$.`, gold: r.answer, correct: false },
  ]);
}

/** Latencies in ms of one pass over all checks; throws if a verdict is not the expected one. */
function pass(checks: Check[]): number[] {
  const times: number[] = [];
  for (const c of checks) {
    const start = performance.now();
    const got = gradeAnswer(c.completion, c.gold);
    times.push(performance.now() - start);
    if (got.correct !== c.correct)
      throw new Error(`bench: gold ${JSON.stringify(c.gold)} judged ${got.reason} for ${JSON.stringify(got.extracted)}`);
  }
  return times;
}

const WARMUP_PASSES = 6;

function report(label: string, times: number[]): void {
  const sorted = times.slice().sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const total = times.reduce((a, b) => a + b, 0);
  const rate = (times.length / total) * 1000;
  const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;
  console.log(
    `math ${label.padEnd(5)} ${times.length} checks  ${rate.toFixed(0)} checks/s/core  ` +
      `p50 ${us(at(0.5))}  p99 ${us(at(0.99))}  max ${sorted[sorted.length - 1].toFixed(2)} ms  ` +
      `(load ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores)`,
  );
}

export async function run(opts: BenchOptions): Promise<void> {
  const checks = loadChecks();
  const reps = opts.quick ? 2 : 10;
  // After one warm-up pass V8 was still optimizing during the measured passes: with
  // --single-threaded, ~25 of --quick's 2,000 cold checks spent 1-13 ms of CPU in compiles and GC,
  // more than the 1 % that sets p99. After six passes the cold p99 is the verifier's own (~0.3 ms).
  for (let i = 0; i < WARMUP_PASSES; i++) {
    clearParseCache();
    pass(checks);
  }
  const cold: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    clearParseCache();
    cold.push(...pass(checks));
  }
  report("cold", cold);
  const warm: number[] = [];
  for (let rep = 0; rep < reps; rep++) warm.push(...pass(checks));
  report("warm", warm);
}
