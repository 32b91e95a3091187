/**
 * Recipes: a YAML file validated by a zod schema before anything runs, with `--set a.b=value`
 * overrides. A bad recipe fails with the file, the line and the field named
 * (`recipes/x.yaml:12: grpo.epsilon: Invalid input: expected number, received string`).
 */
import fs from "node:fs";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, parse as parseYaml, type Document } from "yaml";
import type { z } from "zod";
import { UserError } from "../datasets/user-error.ts";

export class RecipeError extends UserError {
  override name = "RecipeError";
  constructor(readonly file: string, readonly line: number | null, readonly field: string, readonly problem: string) {
    super(`${file}${line === null ? "" : `:${line}`}: ${field}: ${problem}`);
  }
}

/** Reads, overrides and validates a recipe; throws RecipeError naming file, line and field. */
export function loadRecipe<S extends z.ZodType>(file: string, schema: S, overrides: string[] = []): z.infer<S> {
  if (!fs.existsSync(file)) throw new RecipeError(file, null, "(file)", "no such recipe file");
  const lines = new LineCounter();
  const doc = parseDocument(fs.readFileSync(file, "utf8"), { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new RecipeError(file, lines.linePos(e.pos[0]).line, "(yaml)", e.message.split("\n")[0]);
  }
  if (doc.contents !== null && !isMap(doc.contents)) throw new RecipeError(file, 1, "(root)", "a recipe is a mapping of sections");
  const overridden = new Set<string>();
  for (const o of overrides) overridden.add(applyOverride(doc, o, file));
  const result = schema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") path.push(String(issue.keys[0]));
  const field = path.join(".") || "(root)";
  const problem = issue.code === "unrecognized_keys" ? `unknown key (misspelt? allowed keys are listed in recipes/CONFIG.md)` : issue.message;
  if (overridden.has(field)) throw new RecipeError(file, null, field, `${problem} (from --set ${field}=…)`);
  throw new RecipeError(file, lineOf(doc, lines, path), field, problem);
}

/** `a.b.c=value`: the value is parsed as YAML (numbers, booleans, lists); returns the dotted path. */
function applyOverride(doc: Document, override: string, file: string): string {
  const eq = override.indexOf("=");
  if (eq <= 0) throw new RecipeError(file, null, override, "a --set override is key.path=value");
  const key = override.slice(0, eq).trim();
  doc.setIn(key.split("."), parseYaml(override.slice(eq + 1)));
  return key;
}

/** Line of the deepest key on `path` that exists (a missing field points at its parent's key). */
function lineOf(doc: Document, lines: LineCounter, path: string[]): number {
  let node: unknown = doc.contents;
  let line = 1;
  for (const key of path) {
    if (isSeq(node)) {
      node = node.items[Number(key)];
      if (isNode(node) && node.range) line = lines.linePos(node.range[0]).line;
      continue;
    }
    if (!isMap(node)) break;
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (!pair) break;
    if (isScalar(pair.key) && pair.key.range) line = lines.linePos(pair.key.range[0]).line;
    node = pair.value;
  }
  return line;
}
