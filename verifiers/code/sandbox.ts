/**
 * Runs one program in a bubblewrap sandbox and reports how it ended. Layers, outermost first:
 *   /bin/sh  → joins the slot's memory and pids cgroups where writable (cgroup.ts): caps on all of
 *              the program's processes together, which rlimits (per process) cannot give.
 *   setpriv  → a per-slot unprivileged host uid (sandboxUid), no capabilities, no_new_privs.
 *              Why a uid as well as cgroups: RLIMIT_NPROC is ignored for uid 0 (SANDBOX.md) but
 *              works for a real uid, also where no cgroup tree is writable; files the host keeps
 *              root-only stay unreadable; one uid per slot keeps fork bombs from starving neighbours.
 *   prlimit  → hard rlimits: CPU s, memory (AS for Python, DATA for Node), processes, file size,
 *              open files, no core dumps; set outside bwrap so nothing inside can raise them.
 *   bwrap    → fresh user/pid/net/ipc/uts/cgroup namespaces, read-only /usr (+ Node's dir), the
 *              program dir read-only at /sandbox, a size-capped private tmpfs at /tmp, a new /proc
 *              and /dev, no /etc or /home, `--die-with-parent`, empty environment.
 * bwrap itself is spawned with `env: {}`: /proc/1/environ inside shows bwrap's environment.
 * The wall clock kills the whole process group; killing bwrap takes the pid namespace with it,
 * so double-forked daemons die too. Output is read only up to the cap, then the group is killed
 * (spawn.ts). Does not contain: test wiring (harness.ts), scheduling (pool.ts), verdicts (index.ts).
 */
import { statSync } from "node:fs";
import { chmod, mkdir, mkdtemp, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { slotCgroup } from "./cgroup.ts";
import { runtimes, type Language } from "./runtimes.ts";
import { spawnCapped } from "./spawn.ts";
import { uidBlock } from "./uid-block.ts";
import { UserError } from "../../datasets/user-error.ts";

export interface Limits {
  /** Wall-clock limit per program run, in milliseconds. */
  wallMs: number;
  /** Memory cap in bytes (address space for Python, writable data + heap for Node). */
  memoryBytes: number;
  /** Bytes read from stdout (and, separately, from stderr) before the program is killed. */
  outputBytes: number;
  /** Processes and threads the sandbox uid may hold (Node alone starts ~11 threads). */
  processes: number;
  /** Largest file the program may write, and the size of its /tmp, in bytes. */
  fileBytes: number;
  /** Open file descriptors. */
  openFiles: number;
}

export const DEFAULT_LIMITS: Limits = {
  wallMs: 5_000,
  memoryBytes: 512 * 2 ** 20,
  outputBytes: 2 ** 20,
  processes: 64,
  fileBytes: 16 * 2 ** 20,
  openFiles: 64,
};

/** One program run: the files to place read-only in /sandbox, which one to start, its stdin. */
export interface RunSpec {
  language: Language;
  /** File name → content; `entry` must be one of them. */
  files: Record<string, string>;
  entry: string;
  stdin: string;
  /** Stdin holds a secret (the harness token): send it over a pipe, which can be read only once. */
  stdinSecret?: boolean;
  limits: Limits;
  /** Pool slot; picks the host uid the sandbox runs as. */
  slot: number;
  /** Join the uid's memory and pids cgroups (default true); costs ~10 ms per run (an RCU grace period). */
  cgroups?: boolean;
  signal?: AbortSignal;
}

/** How a run ended: `exited` carries the program's exit code; the rest name why it was stopped. */
export interface RunOutcome {
  status: "exited" | "timeout" | "output_limit" | "sandbox_error";
  /** Exit code; bwrap reports death by signal N as 128 + N. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** The kernel OOM-killed a process of the run in its memory cgroup (cgroup.ts). */
  oomKilled?: boolean;
}

/** Host uids 61000-65095 are unassigned on Debian (60000-64999 is reserved for the project). */
export const UID_BASE = 61_000;
/** Slots per process: each process holds a block of this many uids (uid-block.ts). */
export const SLOTS_PER_PROCESS = 64;

/** The host uid for a slot: within this process's own block, which no other live process holds. */
export function sandboxUid(slot: number): number {
  return UID_BASE + uidBlock() * SLOTS_PER_PROCESS + (slot % SLOTS_PER_PROCESS);
}

const SETPRIV = "/usr/bin/setpriv";
const PRLIMIT = "/usr/bin/prlimit";
const BWRAP = "/usr/bin/bwrap";

/** The full argv (setpriv … prlimit … bwrap … interpreter file) for one run; hostDir holds the program files. */
export function sandboxArgv(spec: RunSpec, hostDir: string): string[] {
  const { limits } = spec;
  const runtime = runtimes[spec.language];
  const uid = sandboxUid(spec.slot);
  const cpuSeconds = Math.ceil(limits.wallMs / 1000) + 1;
  const setpriv = [SETPRIV, `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups",
    "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--"];
  const prlimit = [PRLIMIT, `--cpu=${cpuSeconds}`, `--${runtime.memoryRlimit}=${limits.memoryBytes}`,
    `--nproc=${limits.processes}`, `--fsize=${limits.fileBytes}`, `--nofile=${limits.openFiles}`,
    "--core=0", "--"];
  const bwrap = [BWRAP, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
    "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64",
    ...runtime.binds.flatMap((d) => ["--ro-bind", d, d]),
    "--ro-bind", hostDir, "/sandbox", "--proc", "/proc", "--dev", "/dev",
    "--size", String(limits.fileBytes), "--tmpfs", "/tmp", "--chdir", "/tmp",
    "--hostname", "sandbox", "--clearenv",
    "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8",
    "--json-status-fd", "3", "--"];
  return [...setpriv, ...prlimit, ...bwrap, ...runtime.argv(`/sandbox/${spec.entry}`, limits.memoryBytes)];
}

/**
 * Run one program under the sandbox; never throws for anything the program does.
 * Host layout: a fresh <tmp>/rlvr-code-XXXXXX dir (0711; <tmp> from workRoot) holds prog/ (bound read-only at /sandbox) and the stdin
 * file, which stays outside the sandbox. Stdin is a file, not Node's socketpair, because programs
 * open /dev/stdin and reopening a socket through /proc fails with ENXIO. A secret stdin goes over
 * the socketpair instead: a file could be reopened from the start through bwrap's /proc/1/fd/0.
 */
export async function runSandboxed(spec: RunSpec): Promise<RunOutcome> {
  const work = await mkdtemp(join(workRoot(), "rlvr-code-"));
  let input: FileHandle | null = null;
  try {
    // bwrap runs as the sandbox uid: it must traverse work/ and read prog/ (the mount is read-only)
    await chmod(work, 0o711);
    const prog = join(work, "prog");
    await mkdir(prog, { mode: 0o755 });
    for (const [name, text] of Object.entries(spec.files)) await writeFile(join(prog, name), text, { mode: 0o644 });
    if (!spec.stdinSecret) {
      await writeFile(join(work, "stdin"), spec.stdin, { mode: 0o644 });
      input = await open(join(work, "stdin"), "r");
    }
    const cg = spec.cgroups === false ? null : slotCgroup(sandboxUid(spec.slot), spec.limits.memoryBytes, spec.limits.processes);
    if (!cg && spec.cgroups !== false) warnNoCgroup();
    const oomBefore = cg?.oomKills() ?? 0;
    const argv = cg ? [...joinCgroups(cg.procsFiles), ...sandboxArgv(spec, prog)] : sandboxArgv(spec, prog);
    const outcome = await spawnCapped(argv, input?.fd ?? spec.stdin, spec.limits, spec.signal);
    return cg && cg.oomKills() > oomBefore ? { ...outcome, oomKilled: true } : outcome;
  } finally {
    await input?.close();
    await rm(work, { recursive: true, force: true });
  }
}

let root: string | null = null;

/**
 * Where run dirs go: TMPDIR, or /tmp where TMPDIR sits under a directory other users cannot
 * enter (a private `mktemp -d`), since bwrap, as the sandbox uid, must reach the program files.
 */
function workRoot(): string {
  root ??= [tmpdir(), "/tmp"].find(enterableByOthers) ?? null;
  if (root === null) throw new SandboxUnavailableError(`neither ${tmpdir()} (TMPDIR) nor /tmp can be entered by other users, and the sandbox uids read each program from there`);
  return root;
}

/** Whether a uid with no rights here can reach `dir`: every directory on the way is other-executable. */
function enterableByOthers(dir: string): boolean {
  try {
    for (let d = resolve(dir); ; d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) return false;
      if (d === dirname(d)) return true;
    }
  } catch {
    return false;
  }
}

/** A /bin/sh prefix that moves itself into the given cgroups, then execs the rest (exit 125 if it cannot). */
function joinCgroups(procsFiles: string[]): string[] {
  const script = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; shift; exec "$@"';
  return ["/bin/sh", "-c", script, "sh", ...procsFiles, "--"];
}

let warned = false;

function warnNoCgroup(): void {
  if (warned) return;
  warned = true;
  // a warning, not a print: the application decides whether and where it shows (Node prints it by default)
  process.emitWarning("code verifier: no writable cgroup v1 memory/pids hierarchy; memory and processes are capped per process by rlimits only", "SandboxWarning");
}

/** Thrown when the sandbox cannot run here; the message says how to fix it. Nothing runs unsandboxed. */
export class SandboxUnavailableError extends UserError {
  override name = "SandboxUnavailableError";
  constructor(detail: string) {
    super(
      `code verifier: the bubblewrap sandbox cannot run here: ${detail}. ` +
        "Fix: install bubblewrap and util-linux (`apt-get install -y bubblewrap util-linux`), run as root " +
        "(the sandbox drops to uids 61000+), and allow user namespaces " +
        "(`sysctl -w user.max_user_namespaces=15000 kernel.unprivileged_userns_clone=1`); " +
        "or send programs to a remote sandbox with makeCodeVerifier({ remote: { url } }). " +
        "Programs are never run unsandboxed.",
    );
  }
}

let probe: Promise<void> | null = null;

/**
 * The probe's wall: it asks whether the sandbox works, not whether the host is fast. A broken
 * sandbox fails at once; a loaded host may take seconds to start Python, and refusing every
 * program of the process for that would turn load into "cannot run here".
 */
export const PROBE_WALL_MS = 60_000;

/** Check once per process that a trivial program runs in the sandbox; rejects with SandboxUnavailableError. */
export function ensureSandbox(): Promise<void> {
  probe ??= probeSandbox();
  return probe;
}

async function probeSandbox(): Promise<void> {
  if (process.platform !== "linux") throw new SandboxUnavailableError(`platform is ${process.platform}, not linux`);
  if (process.getuid?.() !== 0) throw new SandboxUnavailableError("not running as root, so it cannot switch to a sandbox uid");
  const outcome = await runSandboxed({
    language: "python", files: { "probe.py": "print(6 * 7)" }, entry: "probe.py", stdin: "",
    limits: { ...DEFAULT_LIMITS, wallMs: PROBE_WALL_MS }, slot: 0,
  });
  if (outcome.status !== "exited" || outcome.exitCode !== 0 || outcome.stdout.trim() !== "42") {
    const why = outcome.stderr.trim() || `status ${outcome.status}, exit ${outcome.exitCode}`;
    throw new SandboxUnavailableError(`a trivial program failed (${why.slice(0, 300)})`);
  }
}
