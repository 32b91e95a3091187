/**
 * Sends programs to a remote SandboxFusion server (bytedance/SandboxFusion, used by verl) instead
 * of the local bubblewrap sandbox, over its `POST /run_code` API:
 *   request  {code, language: "python" | "nodejs", stdin, run_timeout (s), memory_limit_MB, files}
 *   response {status: Success | Failed | SandboxError, message, compile_result,
 *             run_result: {status: Finished | TimeLimitExceeded | Error, execution_time, return_code, stdout, stderr}}
 * Extra files (main.* beside an assert driver) travel base64-encoded in `files`, written beside the code.
 * Isolation is then the server's business; this module only maps its answers onto RunOutcome.
 * Does not contain the local sandbox (sandbox.ts) or test wiring (harness.ts).
 */
import type { Job } from "./harness.ts";
import type { Limits, RunOutcome } from "./sandbox.ts";

export interface RemoteOptions {
  /** Base URL of the SandboxFusion server, e.g. http://sandbox:8080 (the path /run_code is added). */
  url: string;
  /** Extra seconds allowed for the HTTP round trip beyond the run's own wall limit. */
  slackSeconds?: number;
}

interface CommandRunResult {
  status?: "Finished" | "TimeLimitExceeded" | "Error" | string;
  execution_time?: number | null;
  return_code?: number | null;
  stdout?: string | null;
  stderr?: string | null;
}

interface RunCodeResponse {
  status?: "Success" | "Failed" | "SandboxError" | string;
  message?: string;
  run_result?: CommandRunResult | null;
}

const LANGUAGE = { python: "python", javascript: "nodejs" } as const;

/** The SandboxFusion request body for one job: the entry file is `code`, the rest go in `files`. */
export function runCodeRequest(job: Job, limits: Limits): Record<string, unknown> {
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(job.files)) {
    if (name !== job.entry) files[name] = Buffer.from(text).toString("base64");
  }
  return {
    code: job.files[job.entry],
    language: LANGUAGE[job.language],
    stdin: job.stdin,
    run_timeout: limits.wallMs / 1000,
    memory_limit_MB: Math.ceil(limits.memoryBytes / 2 ** 20),
    files,
  };
}

/** Run one job on the remote server; transport failures become `sandbox_error`, never a throw. */
export async function runRemote(job: Job, limits: Limits, remote: RemoteOptions, signal?: AbortSignal): Promise<RunOutcome> {
  const started = performance.now();
  const budget = AbortSignal.timeout(limits.wallMs + (remote.slackSeconds ?? 30) * 1000);
  const failed = (why: string): RunOutcome =>
    ({ status: "sandbox_error", exitCode: null, stdout: "", stderr: why, wallMs: performance.now() - started });
  let body: RunCodeResponse;
  try {
    const res = await fetch(new URL("run_code", withSlash(remote.url)), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(runCodeRequest(job, limits)),
      signal: signal ? AbortSignal.any([signal, budget]) : budget,
    });
    if (!res.ok) return failed(`remote sandbox ${remote.url}: HTTP ${res.status} ${await res.text()}`.slice(0, 500));
    body = (await res.json()) as RunCodeResponse;
  } catch (e) {
    return failed(`remote sandbox ${remote.url}: ${(e as Error).message}`);
  }
  return { ...toOutcome(body, limits), wallMs: performance.now() - started };
}

/** Map SandboxFusion's answer onto the local sandbox's outcome (output capped the same way). */
export function toOutcome(body: RunCodeResponse, limits: Limits): Omit<RunOutcome, "wallMs"> {
  const run = body.run_result;
  if (body.status === "SandboxError" || !run || run.status === "Error") {
    return { status: "sandbox_error", exitCode: null, stdout: "", stderr: body.message || run?.stderr || "remote sandbox error" };
  }
  const stdout = run.stdout ?? "";
  const stderr = run.stderr ?? "";
  const cap = (s: string) => Buffer.from(s).subarray(0, limits.outputBytes).toString("utf8");
  const status = run.status === "TimeLimitExceeded" ? "timeout"
    : Buffer.byteLength(stdout) > limits.outputBytes || Buffer.byteLength(stderr) > limits.outputBytes ? "output_limit"
    : "exited";
  return { status, exitCode: status === "exited" ? run.return_code ?? null : null, stdout: cap(stdout), stderr: cap(stderr) };
}

function withSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}
