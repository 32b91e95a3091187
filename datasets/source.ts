/**
 * Where a recipe's rows come from: a synthetic generator (datasets/synthetic), a file (JSONL,
 * Parquet, Arrow IPC through datasets/loaders.ts) with its column mapping, or a mix of these
 * (their rows together, as a concatenation of Hugging Face datasets; training order is shuffled by
 * the run's seed anyway).
 */
import { z } from "zod";
import { loadRows, DatasetFileConfig } from "./loaders.ts";
import type { Row } from "./row.ts";
import { generate, SyntheticConfig } from "./synthetic/index.ts";

const SingleSource = z.union([z.strictObject({ synthetic: SyntheticConfig }), z.strictObject({ file: DatasetFileConfig })]);

export const DataSource = z
  .union([SingleSource, z.strictObject({ mix: z.array(SingleSource).min(1).describe("Sources whose rows are used together.") })])
  .describe("Either {synthetic: {task, split, count, seed, level, …}}, {file: {path, problem_field, answer_field, …}}, or {mix: [source, …]}.");
export type DataSource = z.infer<typeof DataSource>;

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
