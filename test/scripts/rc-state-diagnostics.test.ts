import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { writeCompletionsTable } from "../../trainer/completions-table.ts";
import { readCompletionTable } from "../../scripts/report/run-data.ts";
import { classify, groupsOf, tally } from "../../scripts/rc-state-diagnostics.ts";

// Start at 7; a+3 b*2 c-5 d+1: a:7+3=10. b:10*2=20. c:20-5=15. d:15+1=16.
const four = "Start at 7; a+3 b*2 c-5 d+1. Result?";
const two = "Start at 7; a+3 b*2. Result?";

test("states are classed by their summary (empty, the gold equation of its label, wrong) and the operations left (out of reach when one window cannot finish them)", () => {
  expect(classify(`${two}\n`, 2)).toBe("empty/2 left");
  expect(classify(`${four}\n`, 2)).toBe("empty/4 left (out of reach)");
  expect(classify(`${four}\n`, 4)).toBe("empty/4 left");
  expect(classify(`${four}\nb:10*2=20.`, 2)).toBe("gold/2 left"); // c and d remain
  expect(classify(`${four}\na:7+3=10.`, 2)).toBe("gold/3 left (out of reach)"); // b, c, d remain
  expect(classify(`${four}\nb:10*2=21.`, 2)).toBe("wrong/-");
  expect(classify(`${two}\nb:10*2=20.`, 2)).toBe("gold/0 left"); // only the box remains
});

test("groups are K consecutive rows with one prompt, read back from a completions table, and counted by hand", () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-rcdiag-")), "step-000001.arrow");
  const rows = [
    ...[1, 0, 1, 1].map((reward) => ({ prompt: `${two}\n`, reward })), // mixed
    ...[0, 0, 0, 0].map((reward) => ({ prompt: `${four}\n`, reward })), // unreachable: all 0
    ...[1, 1, 1, 1].map((reward) => ({ prompt: `${two}\nb:10*2=20.`, reward })), // all 1
    ...[0, 0, 0, 0].map((reward) => ({ prompt: `${four}\nb:10*2=21.`, reward })), // wrong summary
    ...[0, 1, 0, 0].map((reward) => ({ prompt: `${four}\nb:10*2=20.`, reward })), // mixed
  ];
  writeCompletionsTable(file, rows.map((r) => ({ step: 1, prompt: r.prompt, completion: "x", rewards: { math: r.reward }, reward: r.reward, advantage: 0, truncated: false })), ["math"]);
  const groups = groupsOf(readCompletionTable(file).rows);
  expect(groups.map((g) => g.rewards.length)).toEqual([4, 4, 4, 4, 4]);
  const t = tally(groups, 2, 20).get(1)!;
  expect(t.get("empty/2 left")).toEqual({ groups: 1, rewardSum: 3, completions: 4, allZero: 0, allOne: 0, mixed: 1 });
  expect(t.get("empty/4 left (out of reach)")).toEqual({ groups: 1, rewardSum: 0, completions: 4, allZero: 1, allOne: 0, mixed: 0 });
  expect(t.get("gold/0 left")).toEqual({ groups: 1, rewardSum: 4, completions: 4, allZero: 0, allOne: 1, mixed: 0 });
  expect(t.get("gold/2 left")).toEqual({ groups: 1, rewardSum: 1, completions: 4, allZero: 0, allOne: 0, mixed: 1 });
  expect(t.get("wrong/-")).toEqual({ groups: 1, rewardSum: 0, completions: 4, allZero: 1, allOne: 0, mixed: 0 });
});
