/**
 * The code verifier: extracts the program from a completion, runs it against the row's tests in
 * the sandbox (or a remote SandboxFusion server) and turns the runs into a reward.
 * stdin/stdout rows: reward = share of cases passed; assert rows: 1 or 0. A sandbox failure gives
 * reward null ("cannot judge"), never a pass. Does not contain the sandbox, the harness or the pool.
 */
import { z } from "zod";
import type { Row } from "../../datasets/row.ts";
import type { Verifier, VerifyContext, VerifyResult } from "../types.ts";
import { extractCode } from "./extract.ts";
import { normalizeLanguage } from "./runtimes.ts";
import { assertJob, judgeAssert, judgeStdio, stdioJob, stripToken, type CaseResult, type Job, type Verdict } from "./harness.ts";
import { SlotPool } from "./pool.ts";
import { runRemote, type RemoteOptions } from "./remote.ts";
import { DEFAULT_LIMITS, ensureSandbox, runSandboxed, type Limits, type RunOutcome } from "./sandbox.ts";

export { extractCode } from "./extract.ts";
export { DEFAULT_LIMITS, SandboxUnavailableError, type Limits } from "./sandbox.ts";
export type { Verdict } from "./harness.ts";

const count = () => z.int().positive().optional();

/** Options of the code verifier (a recipe's `verifiers[].options` for `code`). */
export const CodeVerifierConfig = z.strictObject({
  limits: z.strictObject({
    wallMs: count().describe("Wall-clock limit per program run in ms; default 5000."),
    memoryBytes: count().describe("Memory cap per program in bytes; default 512 MiB."),
    outputBytes: count().describe("Bytes of stdout (and of stderr) read before the program is killed; default 1 MiB."),
    processes: count().describe("Processes and threads per program; default 64 (Node alone starts ~11)."),
    fileBytes: count().describe("Largest file, and size of the private /tmp, in bytes; default 16 MiB."),
    openFiles: count().describe("Open file descriptors per process; default 64."),
  }).optional(),
  remote: z.strictObject({
    url: z.string().url().describe("Base URL of a SandboxFusion server; programs go to POST <url>/run_code."),
    slackSeconds: z.number().min(0).optional().describe("Seconds allowed for the HTTP round trip beyond the run's wall limit; default 30."),
  }).optional().describe("Run programs on a remote SandboxFusion server instead of the local bubblewrap sandbox."),
  concurrency: count().describe("Programs run at once; defaults to the number of cores."),
  cgroups: z.boolean().default(true)
    .describe("Cap memory and processes of all of a program's processes together with cgroups (~10 ms per run); off, a program may fork up to processes × memoryBytes."),
});
export type CodeVerifierOptions = z.input<typeof CodeVerifierConfig>;

/** A code verifier with its own limits, backend and pool; throws on unknown or invalid options. */
export function makeCodeVerifier(options: CodeVerifierOptions = {}): Verifier {
  const parsed = CodeVerifierConfig.safeParse(options);
  if (!parsed.success) {
    throw new Error(`code verifier options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const opts: { limits?: Partial<Limits>; remote?: RemoteOptions; concurrency?: number; cgroups: boolean } = parsed.data;
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const pool = new SlotPool(opts.concurrency);
  const execute = (job: Job, signal?: AbortSignal): Promise<RunOutcome> =>
    pool.run((slot) => opts.remote
      ? runRemote(job, limits, opts.remote, signal)
      : runSandboxed({ ...job, limits, slot, signal, cgroups: opts.cgroups }));
  return {
    name: "code",
    async verify(completion: string, row: Row, ctx: VerifyContext): Promise<VerifyResult> {
      if (row.language !== undefined && normalizeLanguage(row.language) === null) {
        throw new Error(`code verifier: row ${row.id ?? "(no id)"}: language ${JSON.stringify(row.language)} is not supported; use python or javascript`);
      }
      const program = extractCode(completion, row.language);
      if (program === null || program.code.trim() === "") return { reward: 0, reason: "no_code", verdict: "no_code" };
      const tests = row.tests;
      if (!opts.remote) await ensureSandbox();
      if (typeof tests?.assert === "string") {
        const { job, token } = assertJob(program.language, program.code, tests.assert);
        const outcome = await execute(job, ctx.signal);
        return summarize([judgeAssert(outcome, token)], { stdout: clip(stripToken(outcome.stdout, token)) });
      }
      const cases = stdioCases(tests, row.id);
      const results = await Promise.all(cases.map(([input, expected]) =>
        execute(stdioJob(program.language, program.code, input), ctx.signal).then((o) => judgeStdio(o, expected))));
      return summarize(results, {});
    },
  };
}

/** The default verifier: local sandbox, default limits, one program per core. */
export const codeVerifier: Verifier = makeCodeVerifier();

/** Reward = share passed; the verdict is `pass` or the first failing case's; a sandbox error wins. */
function summarize(results: CaseResult[], extra: Record<string, unknown>): VerifyResult {
  const passed = results.filter((r) => r.verdict === "pass").length;
  const broken = results.find((r) => r.verdict === "sandbox_error");
  const first = broken ?? results.find((r) => r.verdict !== "pass");
  const verdict: Verdict = first?.verdict ?? "pass";
  return {
    reward: broken ? null : passed / results.length,
    reason: verdict,
    verdict,
    passed,
    total: results.length,
    ...(first?.detail ? { detail: first.detail } : {}),
    ...extra,
  };
}

/** [stdin, expected stdout] pairs, checked: a row without usable tests is a dataset bug. */
function stdioCases(tests: Row["tests"], id: string | undefined): Array<[string, string]> {
  const inputs = tests?.inputs;
  const outputs = tests?.outputs;
  const where = `code verifier: row ${id ?? "(no id)"}: tests`;
  if (!Array.isArray(inputs) || !Array.isArray(outputs)) {
    throw new Error(`${where}: expected {inputs: string[], outputs: string[]} or {assert: string}`);
  }
  if (inputs.length !== outputs.length || inputs.length === 0) {
    throw new Error(`${where}: ${inputs.length} inputs but ${outputs.length} outputs; need the same non-zero count`);
  }
  return inputs.map((input, i) => [String(input), String(outputs[i])]);
}

function clip(text: string, chars = 2000): string {
  return text.length > chars ? `${text.slice(0, chars)}…` : text;
}
