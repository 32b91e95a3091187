/**
 * The safetensors format (as Hugging Face's `safetensors` reads it): an 8-byte little-endian
 * header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__},
 * padded with spaces to 8 bytes, then the raw little-endian buffers. Only F32 is written.
 */
import { UserError } from "../../datasets/user-error.ts";

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** A damaged or foreign file: the user's to fix, so a UserError (one line from the CLI, no stack). */
export class SafetensorsError extends UserError {
  override name = "SafetensorsError";
}

/** Serializes tensors (in the map's order) with optional string metadata. */
export function encodeSafetensors(tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`bug: tensor ${name} has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    // copy through a Buffer view: explicit little-endian regardless of the host's byte order
    const view = new DataView(out.buffer, out.byteOffset + pos, t.data.byteLength);
    for (let i = 0; i < t.data.length; i++) view.setFloat32(i * 4, t.data[i], true);
    pos += t.data.byteLength;
  }
  return out;
}

/** Parses a safetensors file's bytes; `file` names it in errors. */
export function decodeSafetensors(bytes: Buffer, file: string): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const fail = (problem: string, cause?: unknown): never => {
    throw new SafetensorsError(`${file}: ${problem}`, { cause });
  };
  if (bytes.length < 8) fail(`truncated: ${bytes.length} bytes, too short for a safetensors header`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (8 + headerLength > bytes.length) fail(`truncated: header claims ${headerLength} bytes but the file has ${bytes.length - 8} after the length`);
  let header: unknown;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  } catch (cause) {
    fail("the header is not valid JSON", cause);
  }
  if (!isRecord(header)) return fail("the header is not a JSON object of tensors");
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, NamedTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, begin, end } = tensorInfo(name, info, fail);
    if (dtype !== "F32") fail(`tensor ${name} has dtype ${dtype}; only F32 is supported`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (end > dataLength) fail(`truncated: tensor ${name} ends at byte ${end} of ${dataLength}`);
    if (end - begin !== size * 4) fail(`tensor ${name} spans ${end - begin} bytes, shape [${shape}] needs ${size * 4}`);
    const data = new Float32Array(size);
    const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, size * 4);
    for (let i = 0; i < size; i++) data[i] = view.getFloat32(i * 4, true);
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}

/** One header entry, checked before any of it is trusted as an offset or an allocation size. */
function tensorInfo(name: string, info: unknown, fail: (problem: string) => never): { dtype: unknown; shape: number[]; begin: number; end: number } {
  if (!isRecord(info)) return fail(`tensor ${name}: expected {dtype, shape, data_offsets}, found ${JSON.stringify(info)}`);
  const { dtype, shape, data_offsets: offsets } = info;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(count)) fail(`tensor ${name}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(count) || offsets[0] > offsets[1]) {
    fail(`tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 ≤ begin ≤ end`);
  }
  const [begin, end] = offsets as [number, number];
  return { dtype, shape: shape as number[], begin, end };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
