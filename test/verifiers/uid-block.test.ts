/**
 * Sandbox uid blocks are held by one live process each: two test suites (or trainers) whose pids
 * agree mod 64 used to share a block, and with it the uids' process limits and memory cgroups.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { claimUidBlock, UID_BLOCKS } from "../../verifiers/code/uid-block.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-uid-blocks-"));
const sleeper = spawn("sleep", ["600"]);
afterAll(() => {
  sleeper.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a block held by another live process is not shared: the next free one is taken", () => {
  expect(claimUidBlock(7, dir, sleeper.pid!)).toBe(7);
  expect(fs.readFileSync(path.join(dir, "block-7"), "utf8")).toBe(String(sleeper.pid));
  expect(claimUidBlock(7, dir, process.pid)).toBe(8);
  // a process asking again gets the block it holds
  expect(claimUidBlock(8, dir, process.pid)).toBe(8);
  // the search wraps around the last block
  expect(claimUidBlock(UID_BLOCKS - 1, dir, sleeper.pid!)).toBe(UID_BLOCKS - 1);
  const other = spawn("sleep", ["600"]);
  try {
    expect(claimUidBlock(UID_BLOCKS - 1, dir, other.pid!)).toBe(0);
  } finally {
    other.kill();
  }
});

test("a block whose owner died without releasing it is taken over", () => {
  const gone = spawnSync("true").pid!;
  fs.writeFileSync(path.join(dir, "block-20"), String(gone));
  expect(claimUidBlock(20, dir, sleeper.pid!)).toBe(20);
  expect(fs.readFileSync(path.join(dir, "block-20"), "utf8")).toBe(String(sleeper.pid));
});

test("a process releases its block when it exits", () => {
  const script = `import { claimUidBlock } from ${JSON.stringify(path.resolve(import.meta.dirname, "../../verifiers/code/uid-block.ts"))};\nprocess.stdout.write(String(claimUidBlock(30, ${JSON.stringify(dir)}, process.pid)));`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", cwd: path.resolve(import.meta.dirname, "../..") });
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("30");
  expect(fs.existsSync(path.join(dir, "block-30"))).toBe(false);
});
