/**
 * Parquet, one row group at a time, with hyparquet: pure JS (no native build, so it installs
 * wherever Node 20 does), maintained (monthly releases through 2026), reads the nested LIST/STRUCT
 * columns of Hugging Face exports, and fetches only the byte ranges of the row group it decodes.
 * hyparquet-compressors adds the codecs beyond snappy (gzip, zstd, brotli, lz4) that exports use.
 * Memory holds one decoded row group, never the file.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, type FileMetaData } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DatasetError } from "../dataset-error.ts";
import { toPlain, type RawRow } from "./plain.ts";
import type { OpenedFile } from "./opened-file.ts";

/** Open a Parquet file: its top-level columns now, its rows row group by row group. */
export async function openParquet(file: string): Promise<OpenedFile> {
  const buffer = await asyncBufferFromFile(file);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (cause) {
    throw new DatasetError(file, {}, undefined, `not a readable Parquet file (${(cause as Error).message}); check the path and format`, { cause });
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  // each slice the reader fetches opens and closes its own stream: nothing stays open between them
  return { columns, rows: readRowGroups(file, buffer, metadata), close: async () => {} };
}

async function* readRowGroups(file: string, buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>, metadata: FileMetaData): AsyncGenerator<RawRow> {
  let rowStart = 0;
  for (const [rowGroup, group] of metadata.row_groups.entries()) {
    const rowEnd = rowStart + Number(group.num_rows);
    let records: Record<string, unknown>[];
    try {
      records = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd, compressors, rowFormat: "object" });
    } catch (cause) {
      const problem = `cannot decode row group ${rowGroup} (${(cause as Error).message}); the file may be truncated or use an unsupported encoding`;
      throw new DatasetError(file, { row: rowStart, rowGroup }, undefined, problem, { cause });
    }
    for (const [i, record] of records.entries()) {
      yield { at: { row: rowStart + i, rowGroup }, record: toPlain(record) as Record<string, unknown> };
    }
    rowStart = rowEnd;
  }
}
