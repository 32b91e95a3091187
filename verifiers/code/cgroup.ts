/**
 * Per-uid cgroups (v1 memory and pids controllers) that cap a program's processes *together*.
 * rlimits are per process: 64 processes × 512 MiB would be 32 GiB, more than these hosts have, so
 * where a v1 memory hierarchy is writable (it is on our Debian machines) each sandbox uid also gets
 * a memory cgroup of `memoryBytes` and a pids cgroup of `processes`, under this process's own cgroup.
 * The program joins them before bwrap starts (a /bin/sh wrapper writes its pid, then execs), so no
 * child escapes the count. Does not contain the rlimits or namespaces (sandbox.ts). On hosts without
 * a writable v1 hierarchy (cgroup v2 only, read-only cgroupfs) it returns null and the sandbox
 * warns once and relies on rlimits alone.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = "/sys/fs/cgroup";

export interface SlotCgroup {
  /** `cgroup.procs` files the program must write its pid into before starting. */
  procsFiles: string[];
  /** OOM kills in this slot's memory cgroup so far. */
  oomKills(): number;
}

const slots = new Map<number, SlotCgroup | null>();
const applied = new Map<number, string>();

/** The cgroups of sandbox uid `uid` with the limits applied, or null where v1 memory/pids cgroups are not writable. */
export function slotCgroup(uid: number, memoryBytes: number, processes: number): SlotCgroup | null {
  if (!slots.has(uid)) slots.set(uid, makeSlot(uid));
  const cg = slots.get(uid)!;
  const want = `${memoryBytes}/${processes}`;
  if (!cg || applied.get(uid) === want) return cg;
  try {
    const [memory, pids] = cg.procsFiles.map((f) => f.slice(0, -"/cgroup.procs".length));
    writeFileSync(join(memory, "memory.limit_in_bytes"), String(memoryBytes));
    writeFileSync(join(pids, "pids.max"), String(processes));
    applied.set(uid, want);
    return cg;
  } catch {
    return null; // e.g. EBUSY: memory still charged above the new limit; rlimits still apply
  }
}

function makeSlot(uid: number): SlotCgroup | null {
  try {
    const memory = ensureDir("memory", uid);
    const pids = ensureDir("pids", uid);
    const oomControl = join(memory, "memory.oom_control");
    return {
      procsFiles: [join(memory, "cgroup.procs"), join(pids, "cgroup.procs")],
      oomKills: () => Number(/oom_kill (\d+)/.exec(readFileSync(oomControl, "utf8"))?.[1] ?? 0),
    };
  } catch {
    return null;
  }
}

/**
 * <controller root>/<this process's cgroup>/rlvr-code/uid-<uid>: one per sandbox uid, kept and
 * reused (an empty cgroup costs nothing), since exit hooks do not run when a worker is killed.
 */
function ensureDir(controller: string, uid: number): string {
  const own = readFileSync("/proc/self/cgroup", "utf8").split("\n")
    .map((l) => l.split(":"))
    .find((parts) => parts[1]?.split(",").includes(controller))?.[2];
  if (own === undefined || !existsSync(join(ROOT, controller, "cgroup.procs"))) throw new Error(`no v1 ${controller} cgroup`);
  const dir = join(ROOT, controller, own, "rlvr-code", `uid-${uid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
