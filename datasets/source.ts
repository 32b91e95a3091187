/**
 * Where a recipe's rows come from: a synthetic generator (datasets/synthetic), a file (JSONL,
 * Parquet, Arrow IPC through datasets/loaders.ts) with its column mapping, or a mix of these
 * (their rows together, as a concatenation of Hugging Face datasets; training order is shuffled by
 * the run's seed anyway). A `synthetic:<task>?key=value&…` string, as `rlvr eval --dataset` takes,
 * stands for the synthetic source it spells.
 */
import { z } from "zod";
import { loadRows, DatasetFileConfig } from "./loaders.ts";
import type { Row } from "./row.ts";
import { generate, parseDatasetSpec, SyntheticConfig } from "./synthetic/index.ts";

const Synthetic = z.strictObject({ synthetic: SyntheticConfig });
const File = z.strictObject({ file: DatasetFileConfig });

const SingleSource = byKey(z.union([Synthetic, File]), { synthetic: Synthetic, file: File });
const Mix = z.strictObject({ mix: z.array(SingleSource).min(1).describe("Sources whose rows are used together.") });

export const DataSource = byKey(z.union([Synthetic, File, Mix]), { synthetic: Synthetic, file: File, mix: Mix })
  .describe("Either {synthetic: {task, split, count, seed, level, …}} (or the string synthetic:<task>?level=3&count=200), {file: {path, problem_field, answer_field, …}}, or {mix: [source, …]}.");
export type DataSource = z.infer<typeof DataSource>;

const KINDS = "{synthetic: {…}}, {file: {…}}, {mix: […]} or a synthetic:<task>?… string";

/**
 * The union, validated through the one branch its key names: a plain union reports any mistake
 * inside a source as "Invalid input" for the whole source, where this names the field (a misspelt
 * task, at its own line of the recipe). The union stays the schema's type and its documentation.
 */
function byKey<U extends z.ZodType>(union: U, branches: Record<string, z.ZodType>) {
  return z.preprocess((input, ctx) => {
    let value = input;
    if (typeof value === "string" && value.startsWith("synthetic:")) {
      try {
        value = { synthetic: parseDatasetSpec(value) };
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
        return input;
      }
    }
    const keys = value !== null && typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
    const branch = keys.length === 1 ? branches[keys[0]] : undefined;
    if (!branch) {
      const found = keys.length ? `{${keys.join(", ")}}` : JSON.stringify(value) ?? String(value);
      ctx.addIssue({ code: "custom", message: `a data source is ${KINDS}, not ${found}` });
      return input;
    }
    const parsed = branch.safeParse(value);
    if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue(issue as never);
    return value;
  }, union);
}

/** All rows of a source (synthetic rows are generated; file rows streamed and collected; a mix concatenated in order). */
export async function loadSource(source: DataSource, log: (line: string) => void = () => {}): Promise<Row[]> {
  if ("mix" in source) {
    const parts: Row[][] = [];
    for (const part of source.mix) parts.push(await loadSource(part, log));
    return parts.flat();
  }
  if ("synthetic" in source) return generate(source.synthetic);
  const { rows, skipped } = await loadRows(source.file, { onWarning: log });
  if (skipped) log(`${source.file.path}: skipped ${skipped} malformed rows`);
  return rows;
}
