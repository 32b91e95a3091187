/**
 * A damaged safetensors file is the user's to fix (re-download, re-save): every way of damaging
 * one is a UserError that names the file and says what is wrong, never a RangeError or TypeError
 * from reading past the end or trusting the header.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { loadCheckpoint, saveCheckpoint } from "../../trainer/model/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "../../trainer/model/safetensors.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../datasets/rng.ts";
import { UserError } from "../../datasets/user-error.ts";
import { tinyConfig } from "../helpers.ts";

const FILE = "m.safetensors";
const tensors = new Map<string, NamedTensor>([
  ["a", { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
  ["b", { shape: [4], data: Float32Array.from([7, 8, 9, 10]) }],
]);
const whole = encodeSafetensors(tensors, { format: "pt" });

/** The error decoding `bytes` throws, or undefined when it decodes. */
function decodeError(bytes: Buffer): unknown {
  try {
    decodeSafetensors(bytes, FILE);
    return undefined;
  } catch (e) {
    return e;
  }
}

/** A file with this JSON header (padded as the format pads it) followed by `dataBytes` zero bytes. */
function withHeader(header: unknown, dataBytes = 40): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  return out;
}

function expectUserError(e: unknown, problem: string | RegExp): void {
  expect(e).toBeInstanceOf(UserError);
  const message = (e as Error).message;
  expect(message.startsWith(`${FILE}: `), message).toBe(true);
  if (typeof problem === "string") expect(message).toBe(`${FILE}: ${problem}`);
  else expect(message).toMatch(problem);
}

test("a file cut at any length is a UserError naming the file and saying it is truncated", () => {
  expect(decodeError(whole)).toBeUndefined();
  for (let n = 0; n < whole.length; n++) expectUserError(decodeError(whole.subarray(0, n)), /: truncated: /);
});

test("a header that lies about its tensors is refused with what is wrong", () => {
  const cases: [unknown, string][] = [
    [[1, 2], "the header is not a JSON object of tensors"],
    [{ a: 3 }, "tensor a: expected {dtype, shape, data_offsets}, found 3"],
    [{ a: { dtype: "F32", shape: [2, -1], data_offsets: [0, 8] } }, "tensor a: shape [2,-1] is not a list of non-negative integers"],
    [{ a: { dtype: "F32", shape: "2", data_offsets: [0, 8] } }, "tensor a: shape \"2\" is not a list of non-negative integers"],
    [{ a: { dtype: "F32", shape: [2], data_offsets: [8] } }, "tensor a: data_offsets [8] is not [begin, end] with 0 ≤ begin ≤ end"],
    [{ a: { dtype: "F32", shape: [2], data_offsets: [-8, 0] } }, "tensor a: data_offsets [-8,0] is not [begin, end] with 0 ≤ begin ≤ end"],
    [{ a: { dtype: "F32", shape: [2], data_offsets: [16, 8] } }, "tensor a: data_offsets [16,8] is not [begin, end] with 0 ≤ begin ≤ end"],
    [{ a: { dtype: "F32", shape: [1e6, 1e6], data_offsets: [0, 4e12] } }, "truncated: tensor a ends at byte 4000000000000 of 40"],
    [{ a: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, "tensor a has dtype F16; only F32 is supported"],
  ];
  for (const [header, problem] of cases) expectUserError(decodeError(withHeader(header)), problem);
});

test("random damage to the header and length is always a UserError or a clean decode (seeded)", () => {
  const rng = new Rng(20);
  const headerEnd = 8 + Number(whole.readBigUInt64LE(0));
  let refused = 0;
  for (let trial = 0; trial < 2000; trial++) {
    const bytes = Buffer.from(whole);
    for (let flips = 1 + rng.int(3); flips > 0; flips--) bytes[rng.int(headerEnd)] = rng.int(256);
    const e = decodeError(bytes);
    if (e === undefined) continue;
    refused += 1;
    expectUserError(e, /\S/);
  }
  expect(refused).toBeGreaterThan(1000);
});

test("loading a checkpoint whose weights file was cut short is a UserError naming that file", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rlvr-safetensors-"));
  try {
    const model = Transformer.init(tinyConfig(), 1);
    const dir = saveCheckpoint(path.join(tmp, "step-1"), model, { step: 1 });
    model.dispose();
    const file = path.join(dir, "model.safetensors");
    fs.truncateSync(file, fs.statSync(file).size - 100);
    expect(() => loadCheckpoint(dir)).toThrow(UserError);
    expect(() => loadCheckpoint(dir)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: truncated: tensor \\S+ ends at byte \\d+ of \\d+$`));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
