/**
 * The folders form layers, bottom to top: datasets/ (rows, and the leaf modules every layer uses:
 * rng.ts, user-error.ts, rc-templates.ts) → verifiers/ → trainer/ → scripts/. A module imports only
 * from its own layer or those below, so datasets/ can be read without the trainer.
 */
import fs from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");
const LAYERS = ["datasets", "verifiers", "trainer", "scripts"];

test("no folder imports from a folder above it", () => {
  const upward: string[] = [];
  let scanned = 0;
  for (const [level, dir] of LAYERS.entries()) {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })) {
      if (!e.isFile() || !e.name.endsWith(".ts")) continue;
      scanned++;
      const file = path.join(e.parentPath, e.name);
      for (const m of fs.readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const target = path.relative(ROOT, path.resolve(path.dirname(file), m[1])).split(path.sep)[0];
        const targetLevel = LAYERS.indexOf(target);
        if (targetLevel > level) upward.push(`${path.relative(ROOT, file)} imports ${m[1]}`);
      }
    }
  }
  expect(scanned).toBeGreaterThan(100);
  expect(upward).toEqual([]);
});
