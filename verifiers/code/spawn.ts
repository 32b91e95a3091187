/**
 * Starts one sandbox command line and watches it: an empty environment, its own process group,
 * a wall-clock kill of the whole group, stdout/stderr read only up to the cap, bwrap's exit
 * record read from its status pipe, and no stray inherited descriptors passed on.
 * Does not contain the command line itself (sandbox.ts).
 */
import { spawn } from "node:child_process";
import { openSync, readdirSync, readFileSync } from "node:fs";
import type { Limits, RunOutcome } from "./sandbox.ts";

/** A byte-capped reader: keeps at most `cap` bytes and says when more arrived. */
class CappedBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;
  constructor(private readonly cap: number) {}
  push(chunk: Buffer): void {
    const room = this.cap - this.size;
    if (chunk.length > room) this.overflowed = true;
    if (room > 0) this.chunks.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
    this.size += Math.min(room, chunk.length);
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** Spawn argv with an empty environment in its own process group, enforce wall and output caps; stdin is an open fd or text to pipe. */
export function spawnCapped(argv: string[], stdin: number | string, limits: Limits, signal?: AbortSignal): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(argv[0], argv.slice(1), {
      env: {}, // bwrap's own environment is readable inside via /proc/1/environ
      detached: true, // own process group, so one kill reaches bwrap and its helpers
      stdio: childStdio(typeof stdin === "number" ? stdin : "pipe"),
    });
    const out = new CappedBuffer(limits.outputBytes);
    const err = new CappedBuffer(limits.outputBytes);
    const status = new CappedBuffer(64 * 1024);
    let stopped: RunOutcome["status"] | null = null;
    const stop = (why: RunOutcome["status"]) => {
      if (stopped) return;
      stopped = why;
      killGroup(child.pid);
    };
    const timer = setTimeout(() => stop("timeout"), limits.wallMs);
    const onAbort = () => stop("timeout");
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    child.stdout!.on("data", (c: Buffer) => { out.push(c); if (out.overflowed) stop("output_limit"); });
    child.stderr!.on("data", (c: Buffer) => { err.push(c); if (err.overflowed) stop("output_limit"); });
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (c: Buffer) => status.push(c));
    if (typeof stdin === "string") {
      child.stdin!.on("error", () => {}); // EPIPE when the program exits without reading its input
      child.stdin!.end(stdin);
    }
    child.on("error", (e) => { stopped ??= "sandbox_error"; err.push(Buffer.from(`spawn failed: ${e.message}`)); });
    child.on("close", (code) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      const exitCode = programExitCode(status.text());
      // no exit record from bwrap means the program never ran: bwrap's setup failed
      const why = stopped ?? (exitCode === null ? "sandbox_error" : "exited");
      const stderr = why === "sandbox_error" && code !== null ? `sandbox command exited ${code}: ${err.text()}` : err.text();
      resolve({ status: why, exitCode, stdout: out.text(), stderr, wallMs: performance.now() - started });
    });
  });
}

/**
 * stdin (a file or a pipe), stdout/stderr, bwrap's status pipe on fd 3, and /dev/null over every fd this process
 * inherited without close-on-exec: libuv passes those to children and bwrap does not close them,
 * so a program could otherwise write to whatever host file or pipe the trainer was started with.
 */
function childStdio(stdin: number | "pipe"): Array<"pipe" | "ignore" | number> {
  const stdio: Array<"pipe" | "ignore" | number> = [stdin, "pipe", "pipe", "pipe"];
  for (const fd of inheritedFds()) {
    while (stdio.length <= fd) stdio.push("ignore");
    if (fd > 3) stdio[fd] = devNull();
  }
  return stdio;
}

let inherited: number[] | null = null;
let devNullFd: number | null = null;

function devNull(): number {
  devNullFd ??= openSync("/dev/null", "r"); // Node opens it close-on-exec; the child gets a dup
  return devNullFd;
}

/** Open fds > 2 without O_CLOEXEC (octal 02000000 in /proc/self/fdinfo's `flags`), read once. */
function inheritedFds(): number[] {
  inherited ??= readdirSync("/proc/self/fd").map(Number).filter((fd) => {
    if (fd <= 2) return false;
    try {
      const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
      return flags !== null && (parseInt(flags[1], 8) & 0o2000000) === 0;
    } catch {
      return false; // the fd of the directory listing itself, closed by now
    }
  });
  return inherited;
}

/** bwrap's `--json-status-fd` ends with `{ "exit-code": N }` once the program has run. */
function programExitCode(statusText: string): number | null {
  const m = /"exit-code"\s*:\s*(\d+)/.exec(statusText);
  return m ? Number(m[1]) : null;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}
