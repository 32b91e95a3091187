/**
 * Arrow IPC (`.arrow`, `.feather` v2, `.ipc`; file or stream format, the latter being what Hugging
 * Face `datasets` caches) with apache-arrow, one record batch at a time from a file stream, so
 * memory holds one batch, never the file. Feather v1 (pre-2020 pandas) is not Arrow IPC and fails.
 */
import { createReadStream } from "node:fs";
import { RecordBatchReader, type RecordBatch } from "apache-arrow";
import { DatasetError } from "../dataset-error.ts";
import { toPlain, type RawRow } from "./plain.ts";
import type { OpenedFile } from "./opened-file.ts";

/** Open an Arrow IPC file: its columns now, its rows record batch by record batch. */
export async function openArrow(file: string): Promise<OpenedFile> {
  const stream = createReadStream(file);
  let reader: RecordBatchReader;
  try {
    reader = await RecordBatchReader.from(stream);
    await reader.open();
  } catch (cause) {
    stream.destroy();
    throw new DatasetError(file, {}, undefined, `not a readable Arrow IPC file (${(cause as Error).message}); check the path and format`, { cause });
  }
  const close = async () => {
    await reader.cancel();
    stream.destroy();
  };
  return { columns: reader.schema.fields.map((f) => f.name), rows: readBatches(file, reader), close };
}

async function* readBatches(file: string, reader: RecordBatchReader): AsyncGenerator<RawRow> {
  let rowStart = 0;
  for (let batchIndex = 0; ; batchIndex++) {
    let next: IteratorResult<RecordBatch>;
    try {
      next = await reader.next();
    } catch (cause) {
      const problem = `cannot decode record batch ${batchIndex} (${(cause as Error).message}); the file may be truncated`;
      throw new DatasetError(file, { row: rowStart, batch: batchIndex }, undefined, problem, { cause });
    }
    if (next.done) return;
    yield* batchRows(next.value, rowStart, batchIndex);
    rowStart += next.value.numRows;
  }
}

function* batchRows(batch: RecordBatch, rowStart: number, batchIndex: number): Generator<RawRow> {
  const fields = batch.schema.fields.map((f, j) => ({ name: f.name, column: batch.getChildAt(j) }));
  for (let i = 0; i < batch.numRows; i++) {
    const record: Record<string, unknown> = {};
    for (const { name, column } of fields) record[name] = toPlain(column?.get(i) ?? null);
    yield { at: { row: rowStart + i, batch: batchIndex }, record };
  }
}
