/** A dataset file opened by one of the format readers: its columns when the format declares them. */
import type { RawRow } from "./plain.ts";

export interface OpenedFile {
  /** Top-level column names from the file's schema; undefined for JSONL, which has none. */
  columns?: string[];
  /** The rows in file order, read lazily. */
  rows: AsyncGenerator<RawRow>;
  /** Release the file, whether or not the rows were read; safe to call more than once. */
  close(): Promise<void>;
}
