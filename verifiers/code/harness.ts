/**
 * How a program meets its tests, and how one run becomes a verdict.
 * Stdin/stdout (APPS/TACO): the program runs once per case; its stdout is compared outside the
 * sandbox, line by line after trimming trailing whitespace, so nothing the program does can fake it.
 * Assert (HumanEval/MBPP): the row's test code and the program run in two processes of one
 * sandbox (drivers/). The entry is the test process: it reads a random per-run token and the
 * tests from stdin, starts the program in a fresh interpreter, and runs the tests itself; every
 * name the tests use that the program defines is a stub that sends its arguments to the program
 * and gets back the result as plain data (exact builtin types, rebuilt from JSON; anything else
 * fails the run). So an object whose `__eq__` or `valueOf` lies, a patched `len`, `math.sqrt`,
 * `sorted` or `require("assert")`, and a program reading the tests to echo their answers all
 * meet tests that run where the program never did. The test process writes the token after the
 * last test returned and the program exited; a run passes only with exit code 0 AND that token,
 * so an early `sys.exit(0)`, `os._exit(0)` or `process.exit(0)` fails. Neither token nor tests
 * ever enter the program's process (stdin is /dev/null there); the Python test process is also
 * non-dumpable, so the program, the same uid, cannot read its memory. Limits: the tests can call
 * only functions taking and returning plain data (no classes, callbacks or generators), and a
 * program that writes into the Node test process's memory through ptrace is not stopped.
 * Does not contain the sandbox (sandbox.ts) or the per-row reward (index.ts).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { runtimes, type Language } from "./runtimes.ts";
import type { RunOutcome } from "./sandbox.ts";

export type Verdict =
  | "pass" | "wrong_answer" | "runtime_error" | "timeout" | "memory_limit" | "output_limit" | "no_code" | "sandbox_error";

/** What to place in /sandbox and what to feed the program. */
export interface Job {
  language: Language;
  files: Record<string, string>;
  entry: string;
  stdin: string;
  /** Stdin carries the token; the sandbox must not let the program reread it. */
  stdinSecret?: boolean;
}

/** The verdict of one run, with the stderr tail for the log. */
export interface CaseResult {
  verdict: Verdict;
  detail?: string;
}

/** One stdin/stdout case: the program alone, fed `input`. */
export function stdioJob(language: Language, code: string, input: string): Job {
  const entry = `main.${runtimes[language].ext}`;
  return { language, files: { [entry]: code }, entry, stdin: input };
}

/** Judge a stdin/stdout case against the expected output. */
export function judgeStdio(outcome: RunOutcome, expected: string): CaseResult {
  const failed = judgeFailure(outcome);
  if (failed) return failed;
  return sameOutput(outcome.stdout, expected) ? { verdict: "pass" } : { verdict: "wrong_answer" };
}

/** Output equality after trimming trailing whitespace on every line and trailing blank lines. */
export function sameOutput(got: string, want: string): boolean {
  const norm = (s: string) => s.replace(/\r\n/g, "\n").split("\n").map((l) => l.trimEnd()).join("\n").trimEnd();
  return norm(got) === norm(want);
}

// The drivers find main.* and program.* beside themselves (/sandbox locally, the work dir of a
// remote sandbox); each sandbox file is a driver with the shared wire code in front of it.
const driverText = (name: string) => readFileSync(new URL(`./drivers/${name}`, import.meta.url), "utf8");
const DRIVERS: Record<Language, { tester: string; program: string }> = {
  python: { tester: driverText("wire.py") + driverText("tester.py"), program: driverText("wire.py") + driverText("program.py") },
  javascript: { tester: driverText("wire.cjs") + driverText("tester.cjs"), program: driverText("wire.cjs") + driverText("program.cjs") },
};

/** An assert run: the test process as entry, the program beside it, token and tests on stdin. */
export function assertJob(language: Language, code: string, tests: string): { job: Job; token: string } {
  const token = `rlvr-done-${randomBytes(16).toString("hex")}`;
  const ext = runtimes[language].ext;
  const { tester, program } = DRIVERS[language];
  const files = { [`main.${ext}`]: code, [`program.${ext}`]: program, [`driver.${ext}`]: tester };
  return { job: { language, files, entry: `driver.${ext}`, stdin: `${token}\n${tests}`, stdinSecret: true }, token };
}

/** Judge an assert run: exit 0 and the token as the last line of stdout. */
export function judgeAssert(outcome: RunOutcome, token: string): CaseResult {
  const failed = judgeFailure(outcome);
  if (failed) return failed;
  if (!outcome.stdout.endsWith(`\n${token}\n`)) return { verdict: "runtime_error", detail: "tests did not run to the end" };
  return { verdict: "pass" };
}

/** The stdout a user would expect to see, without the driver's token. */
export function stripToken(stdout: string, token: string): string {
  return stdout.endsWith(`\n${token}\n`) ? stdout.slice(0, -(token.length + 2)) : stdout;
}

// What interpreters print when an allocation fails under RLIMIT_AS / RLIMIT_DATA / the V8 heap limit.
const MEMORY_SIGNS = /MemoryError|heap out of memory|Array buffer allocation failed|Allocation failed|Cannot allocate memory|std::bad_alloc|Invalid array length|out of memory/i;
const SIGXCPU = 24;
const SIGXFSZ = 25;

/** The verdict when the run did not end cleanly (exit 0), or null when it did. */
export function judgeFailure(outcome: RunOutcome): CaseResult | null {
  if (outcome.status !== "exited") return { verdict: outcome.status, detail: tail(outcome.stderr) };
  if (outcome.exitCode === 0) return null;
  if (outcome.oomKilled) return { verdict: "memory_limit", detail: "killed by the memory cgroup" };
  const code = outcome.exitCode ?? -1;
  if (code === 128 + SIGXCPU) return { verdict: "timeout", detail: "CPU time limit" };
  if (code === 128 + SIGXFSZ) return { verdict: "runtime_error", detail: "file size limit" };
  if (MEMORY_SIGNS.test(outcome.stderr)) return { verdict: "memory_limit", detail: tail(outcome.stderr) };
  return { verdict: "runtime_error", detail: `exit ${code}: ${tail(outcome.stderr)}` };
}

function tail(text: string, chars = 400): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}
