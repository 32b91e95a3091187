/**
 * How a program meets its tests, and how one run becomes a verdict.
 * Stdin/stdout (APPS/TACO): the program runs once per case; its stdout is compared outside the
 * sandbox, line by line after trimming trailing whitespace, so nothing the program does can fake it.
 * Assert (HumanEval/MBPP): a driver runs program + tests as one script and only after the last
 * test returns writes a random per-run token to stdout; a run passes only with exit code 0 AND
 * that token. An early `sys.exit(0)`, `os._exit(0)` or `process.exit(0)` therefore fails, and so
 * does swallowing the test's exception in an exit hook. The token arrives over a pipe the driver
 * drains and replaces with /dev/null before the program starts, so no file or fd still holds it.
 * It lives on in the driver's memory, so a program that introspects the interpreter's frames
 * could still find it: an in-process harness cannot stop that, nor tests being monkey-patched
 * (e.g. `require("assert").strictEqual = () => {}`).
 * Does not contain the sandbox (sandbox.ts) or the per-row reward (index.ts).
 */
import { randomBytes } from "node:crypto";
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

// The drivers find main.* beside themselves (/sandbox locally, the work dir of a remote sandbox),
// read the token from stdin before the program runs (stdin is otherwise empty for
// assert tests), run program + tests as one unit like HumanEval's `program + "\n" + test`, and
// write the token through a descriptor taken before the program could replace stdout.
const PY_DRIVER = `import os, sys
def _rlvr_run():
    token = sys.stdin.readline().strip()
    # swap stdin for /dev/null: the program finds nothing behind fd 0 or /dev/stdin
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    out = os.dup(1)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "main.py")
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__})
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(out, ("\\n" + token + "\\n").encode())
_rlvr_run()
`;

const JS_DRIVER = `"use strict";
const fs = require("fs");
const token = fs.readFileSync(0, "utf8").trim();
// swap stdin for /dev/null (the lowest free fd): the program finds nothing behind fd 0
fs.closeSync(0);
fs.openSync("/dev/null", "r");
const write = fs.writeSync;
require("./main.js");
write(1, "\\n" + token + "\\n");
`;

/** An assert run: program + tests in one file, started by the driver, with a fresh token. */
export function assertJob(language: Language, code: string, tests: string): { job: Job; token: string } {
  const token = `rlvr-done-${randomBytes(16).toString("hex")}`;
  const ext = runtimes[language].ext;
  const driver = language === "python" ? PY_DRIVER : JS_DRIVER;
  const files = { [`main.${ext}`]: `${code}\n\n${tests}\n`, [`driver.${ext}`]: driver };
  return { job: { language, files, entry: `driver.${ext}`, stdin: `${token}\n`, stdinSecret: true }, token };
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
