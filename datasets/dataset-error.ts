/**
 * The error every dataset loader throws: it names the file, the place in it (a JSONL line, or a
 * Parquet row group / Arrow record batch and row), the field when one is at fault, what was wrong
 * and how to fix it.
 */
import { UserError } from "./user-error.ts";

/** Where in a file a row sits: `line` is 1-based like an editor's; `row` is 0-based like `ds[i]`. */
export interface RowPlace {
  line?: number;
  row?: number;
  rowGroup?: number;
  batch?: number;
}

/** `data.jsonl:3`, `data.parquet: row 17 (row group 1)`, `data.arrow: row 17 (batch 1)`, or the file. */
export function describePlace(file: string, at: RowPlace = {}): string {
  if (at.line !== undefined) return `${file}:${at.line}`;
  if (at.row === undefined) return file;
  const part = at.rowGroup !== undefined ? ` (row group ${at.rowGroup})` : at.batch !== undefined ? ` (batch ${at.batch})` : "";
  return `${file}: row ${at.row}${part}`;
}

export class DatasetError extends UserError {
  override name = "DatasetError";
  readonly line?: number;
  readonly row?: number;
  readonly rowGroup?: number;
  readonly batch?: number;

  constructor(
    readonly file: string,
    at: RowPlace,
    readonly field: string | undefined,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${describePlace(file, at)}: ${field === undefined ? "" : `${field}: `}${problem}`, options);
    this.line = at.line;
    this.row = at.row;
    this.rowGroup = at.rowGroup;
    this.batch = at.batch;
  }
}
