// scripts/plot-rc-chain.ts: the "Result on chain" table and SVG from eval summary JSONs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { readResult, resultSvg, resultTable } from "../../scripts/plot-rc-chain.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-plot-rc-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, body: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, JSON.stringify(body));
  return file;
}

test("reads plain and RC summaries into a table (plain row, one row per turn, 95% CIs) and a line chart", () => {
  const plain = write("p.summary.json", { n_problems: 100, overall: { "pass@1": 0 } });
  const rc = write("r.summary.json", { n_problems: 100, overall: { "pass@1": 0.5 }, rc: { accuracy_by_turn: [0, 0.1, 0.5] } });
  const m = readResult("SFT", plain, rc);
  expect(m).toEqual({ label: "SFT", plain: 0, plainN: 100, byTurn: [0, 0.1, 0.5], rcN: 100 });
  const table = resultTable([m, { ...m, label: "RL", byTurn: [0, 0.2] }]).split("\n");
  expect(table).toHaveLength(2 + 1 + 3);
  expect(table[0]).toBe("| decoding | SFT: pass@1 % (95% CI) | RL: pass@1 % (95% CI) |");
  expect(table[2]).toBe("| plain (whole context) | 0.0 (0.0–3.7) | 0.0 (0.0–3.7) |");
  expect(table[5]).toBe("| RC, T = 3 | 50.0 (40.4–59.6) | — |");
  const svg = resultSvg([m], "t");
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg.match(/<circle/g)).toHaveLength(3);
  expect(svg).toContain("SFT: plain");
  expect(() => readResult("x", plain, plain)).toThrow("not an RC evaluation");
});
