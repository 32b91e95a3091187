/**
 * Which block of host uids this process's sandboxes run as. Each process (a vitest fork, a trainer,
 * a second test suite on the same host) must hold a block of its own: processes that shared one
 * would share the uids' process limit and memory cgroups, so one's fork bomb could keep the other's
 * programs from starting, and a check for leftover processes would see the other's. A block is
 * claimed with a lock file created exclusively (O_EXCL) that records the owner's pid; a lock whose
 * owner is gone (killed before it could remove it) is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { processAlive } from "../../datasets/process-alive.ts";
import { UserError } from "../../datasets/user-error.ts";

/** Blocks of uids there are to hand out. */
export const UID_BLOCKS = 64;
/** Where the claims live: one file per block, host-wide (the uids are host-wide too). */
export const CLAIMS_DIR = "/tmp/rlvr-sandbox-uid-blocks";

let held: number | null = null;

/** This process's block, claimed on first use (starting from its pid's block) and released at exit. */
export function uidBlock(): number {
  held ??= claimUidBlock(process.pid % UID_BLOCKS, CLAIMS_DIR, process.pid);
  return held;
}

/** Claims the first free block from `preferred` on, for `pid`; throws when all are held by live processes. */
export function claimUidBlock(preferred: number, dir: string, pid: number): number {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (let i = 0; i < UID_BLOCKS; i++) {
    const block = (preferred + i) % UID_BLOCKS;
    const file = join(dir, `block-${block}`);
    if (tryClaim(file, pid)) {
      if (pid === process.pid) process.once("exit", () => rmSync(file, { force: true }));
      return block;
    }
  }
  throw new UserError(`all ${UID_BLOCKS} sandbox uid blocks are held by live processes (${dir}); too many code verifiers run on this host at once`);
}

function tryClaim(file: string, pid: number): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o644);
      writeSync(fd, String(pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = Number(readOr(file));
    if (owner === pid) return true;
    if (processAlive(owner)) return false;
    // the owner died without releasing it: take it over (a racing claimant loses at openSync)
    rmSync(file, { force: true });
  }
  return false;
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
