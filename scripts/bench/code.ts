/**
 * Code-run overhead of the sandbox: a trivial Python and JavaScript program run one at a time
 * under the full sandbox (cgroups + setpriv + prlimit + bwrap, runSandboxed), the sandbox without
 * its cgroup layer, and directly (the same interpreter argv and temp-file setup, no isolation),
 * interleaved in one run so all see the same machine load. Prints p50/p99 wall time per program
 * for each, and the p50 difference to the direct run.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtimes, type Language } from "../../verifiers/code/runtimes.ts";
import { DEFAULT_LIMITS, ensureSandbox, runSandboxed } from "../../verifiers/code/sandbox.ts";
import type { BenchOptions } from "./types.ts";

const PROGRAMS: Record<Language, string> = {
  python: "print(sum(range(10)))\n",
  javascript: "console.log([...Array(10).keys()].reduce((a, b) => a + b));\n",
};

/** Wall ms of one sandboxed run, with or without the cgroup layer; throws if the program did not print 45. */
async function sandboxed(language: Language, cgroups: boolean): Promise<number> {
  const entry = `main.${runtimes[language].ext}`;
  const start = performance.now();
  const o = await runSandboxed({ language, files: { [entry]: PROGRAMS[language] }, entry, stdin: "", limits: DEFAULT_LIMITS, slot: 1, cgroups });
  const ms = performance.now() - start;
  if (o.status !== "exited" || o.stdout.trim() !== "45") throw new Error(`bench: sandboxed ${language} gave ${JSON.stringify(o)}`);
  return ms;
}

/** Wall ms of one direct run: temp file, spawn with an empty environment, read stdout, clean up. */
async function direct(language: Language): Promise<number> {
  const start = performance.now();
  const dir = await mkdtemp(join(tmpdir(), "rlvr-bench-"));
  const file = join(dir, `main.${runtimes[language].ext}`);
  await writeFile(file, PROGRAMS[language]);
  const argv = runtimes[language].argv(file, DEFAULT_LIMITS.memoryBytes);
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env: {}, stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stdin.end();
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
  await rm(dir, { recursive: true, force: true });
  const ms = performance.now() - start;
  if (stdout.trim() !== "45") throw new Error(`bench: direct ${language} printed ${JSON.stringify(stdout)}`);
  return ms;
}

function percentile(times: number[], p: number): number {
  const sorted = times.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function cell(times: number[]): string {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  return `${ms(percentile(times, 0.5)).padStart(9)} ${ms(percentile(times, 0.99)).padStart(9)}`;
}

export async function run(opts: BenchOptions): Promise<void> {
  await ensureSandbox();
  const n = opts.quick ? 20 : 200;
  const warmup = 5;
  console.log(`code-run wall time per trivial program, ${n} runs per cell, one program at a time, interleaved`);
  console.log(`${"".padEnd(11)} ${"sandbox (full)".padStart(19)}   ${"sandbox, no cgroups".padStart(19)}   ${"direct".padStart(19)}   overhead p50`);
  console.log(`${"language".padEnd(11)} ${"p50       p99".padStart(19)}   ${"p50       p99".padStart(19)}   ${"p50       p99".padStart(19)}   full / no cgroups`);
  for (const language of ["python", "javascript"] as const) {
    const full: number[] = [];
    const lean: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < warmup + n; i++) {
      const f = await sandboxed(language, true);
      const l = await sandboxed(language, false);
      const d = await direct(language);
      if (i >= warmup) { full.push(f); lean.push(l); raw.push(d); }
    }
    const over = (t: number[]) => `${(percentile(t, 0.5) - percentile(raw, 0.5)).toFixed(1)} ms`;
    console.log(`${language.padEnd(11)} ${cell(full)}   ${cell(lean)}   ${cell(raw)}   ${over(full)} / ${over(lean)}`);
  }
}
