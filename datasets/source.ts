/**
 * Where a recipe's rows come from: a synthetic generator (datasets/synthetic) or a file (JSONL,
 * Parquet, Arrow IPC through datasets/loaders.ts) with its column mapping.
 */
import { z } from "zod";
import { loadRows, DatasetFileConfig } from "./loaders.ts";
import type { Row } from "./row.ts";
import { generate, SyntheticConfig } from "./synthetic/index.ts";

export const DataSource = z
  .union([z.strictObject({ synthetic: SyntheticConfig }), z.strictObject({ file: DatasetFileConfig })])
  .describe("Either {synthetic: {task, split, count, seed, level, …}} or {file: {path, problem_field, answer_field, …}}.");
export type DataSource = z.infer<typeof DataSource>;

/** All rows of a source (synthetic rows are generated; file rows streamed and collected). */
export async function loadSource(source: DataSource, log: (line: string) => void = () => {}): Promise<Row[]> {
  if ("synthetic" in source) return generate(source.synthetic);
  const { rows, skipped } = await loadRows(source.file, { onWarning: log });
  if (skipped) log(`${source.file.path}: skipped ${skipped} malformed rows`);
  return rows;
}
