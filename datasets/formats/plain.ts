/**
 * What a format reader hands the loader: one record of plain JS values and where it sat in the
 * file, or the reason the row could not be read. Parquet and Arrow values (bigints, typed arrays,
 * Arrow vectors and struct rows, Maps, Dates) become numbers, strings, arrays and objects here.
 */
import type { RowPlace } from "../dataset-error.ts";

/** One row as read from a file, before the column mapping. */
export type RawRow =
  | { at: RowPlace; record: Record<string, unknown> }
  | { at: RowPlace; problem: string; cause?: unknown };

/**
 * A plain JS value: int64 → number when it is a safe integer, else its decimal string; lists
 * (arrays, typed arrays, Arrow vectors) → arrays; structs and maps → objects; Dates → ISO strings.
 * Uint8Array (binary columns such as image bytes) stays as it is; undefined (hyparquet's null
 * list) becomes null, so a null cell reads the same in every format.
 */
export function toPlain(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Uint8Array) return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toPlain);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, toPlain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toPlain(v)]));
  // Arrow vectors and struct/map rows: their toJSON gives an array or an object one level down
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return toPlain(toJSON.call(value));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
}

/** `an array`, `a number`, `null`: for messages about a value of the wrong kind. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
