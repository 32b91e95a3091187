// scripts/plot-grpo.ts: the GRPO headline table and SVG from a run's metrics and its base's eval summary.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { accuracyTable, curvesSvg, readRun } from "../../scripts/plot-grpo.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-plot-grpo-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("reads held-out pass@1 (base at step 0), a moving-mean reward and the step minutes; tabulates and draws them", () => {
  const run = path.join(tmp, "run");
  fs.mkdirSync(run);
  const records = [
    { step: 1, "rewards/math/mean": 0.2, step_time: 30 },
    { step: 2, "rewards/math/mean": 0.4, step_time: 30, "eval/accuracy": 0.25 },
    { step: 3, "rewards/math/mean": 0.9, step_time: 60 },
    { step: 4, "rewards/math/mean": 0.1, step_time: 60, "eval/accuracy": 0.5 },
  ];
  fs.writeFileSync(path.join(run, "metrics.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const base = path.join(tmp, "base.summary.json");
  fs.writeFileSync(base, JSON.stringify({ overall: { "pass@1": 0.125 } }));
  const curve = readRun("A", run, base, "rewards/math/mean", 2);
  expect(curve.accuracy).toEqual([[0, 0.125], [2, 0.25], [4, 0.5]]);
  expect(curve.reward.map(([s, r]) => [s, Number(r.toFixed(6))])).toEqual([[1, 0.2], [2, 0.3], [3, 0.65], [4, 0.5]]);
  expect(curve.stepMinutes).toBe(3);
  const table = accuracyTable([curve, { ...curve, label: "B", accuracy: [[0, 0.1], [4, 0.2]] }]).split("\n");
  expect(table).toEqual([
    "| step | A: pass@1 % | B: pass@1 % |", "|---|---|---|",
    "| 0 (base) | 12.5 | 10.0 |", "| 2 | 25.0 | — |", "| 4 | 50.0 | 20.0 |",
  ]);
  const svg = curvesSvg([curve], "t");
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg.match(/<circle/g)).toHaveLength(3);
  expect(svg).toContain("A: held-out pass@1");
});
