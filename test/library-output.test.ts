/**
 * The library folders print nothing and never end the process: they throw typed errors (a
 * UserError for the user's mistakes) or emit warnings, and the commands in scripts/ decide what
 * reaches the terminal and the exit code. The sandbox's driver programs (.cjs, .py) are programs
 * of their own and are not scanned.
 */
import fs from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

test("trainer/, verifiers/ and datasets/ neither print (console.*) nor call process.exit", () => {
  const files = ["trainer", "verifiers", "datasets"].flatMap(sources);
  expect(files.length).toBeGreaterThan(50);
  const found: string[] = [];
  for (const file of files) {
    fs.readFileSync(path.join(ROOT, file), "utf8").split("\n").forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, "");
      if (/^\s*\*/.test(code)) return; // a doc comment's line
      if (/\bconsole\.\w+\s*\(|\bprocess\.exit\s*\(/.test(code)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(found).toEqual([]);
});
