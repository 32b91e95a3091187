/**
 * Checkpoints: a directory holding `model.safetensors` (weights and the MoE selection-bias buffers,
 * named as `parameterSpecs` documents), `optimizer.safetensors` (AdamW moments "m.<param>",
 * "v.<param>") and `state.json` (model config, step, optimizer t, RNG state, data cursor, anything
 * the trainer adds). Saving writes a temporary sibling directory and renames it into place, so a
 * crash mid-save never leaves a half-written checkpoint under the final name.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ModelConfig } from "./config.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";
import { parameterSpecs, selectionBiasName, Transformer } from "./transformer.ts";
import type { AdamW } from "../optimizer.ts";
import { UserError } from "../../datasets/user-error.ts";

export const MODEL_FILE = "model.safetensors";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const STATE_FILE = "state.json";

/**
 * state.json, validated as recipes are: a hand-edited or damaged file is refused with the field
 * named, before anything trains (a string step once trained nothing and printed done).
 */
export const CheckpointState = z.looseObject({
  format: z.literal("rlvr-checkpoint-1"),
  model: ModelConfig,
  step: z.int().min(0),
  // a bare file name: state.json must not make us read a file outside its own checkpoint
  optimizer: z.strictObject({ file: z.string().regex(/^(?!\.\.?$)[\w.-]+$/, "a file name inside the checkpoint directory"), t: z.int().min(0) }).optional(),
  rng: z.array(z.number()).optional(),
  data_cursor: z.unknown().optional(),
});
export type CheckpointState = z.infer<typeof CheckpointState>;

export class CheckpointError extends UserError {
  override name = "CheckpointError";
}

/** Writes a checkpoint directory atomically and returns its path. */
export function saveCheckpoint(
  dir: string,
  model: Transformer,
  extra: { step: number; optimizer?: AdamW; rng?: number[]; data_cursor?: unknown; [k: string]: unknown },
): string {
  const { optimizer, ...rest } = extra;
  const bad = nonFinite(model.values());
  if (bad) throw new CheckpointError(`${dir}: not saved: tensor ${bad} has non-finite values`);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const shapes = model.shapes();
  const weights = new Map<string, NamedTensor>();
  for (const [name, data] of model.values()) weights.set(name, { shape: shapes.get(name)!, data });
  fs.writeFileSync(path.join(tmp, MODEL_FILE), encodeSafetensors(weights, { format: "pt", producer: "rlvr" }));
  const state: CheckpointState = { format: "rlvr-checkpoint-1", model: model.config, ...rest };
  if (optimizer) {
    const opt = optimizer.state();
    const moments = new Map<string, NamedTensor>();
    for (const [name, data] of opt.moments) moments.set(name, { shape: shapes.get(name.slice(2))!, data });
    fs.writeFileSync(path.join(tmp, OPTIMIZER_FILE), encodeSafetensors(moments));
    state.optimizer = { file: OPTIMIZER_FILE, t: opt.t };
  }
  fs.writeFileSync(path.join(tmp, STATE_FILE), JSON.stringify(state, null, 2) + "\n");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}

/** Reads and validates state.json (its model config, step, optimizer file, …). */
export function readCheckpointState(dir: string): CheckpointState {
  const file = path.join(dir, STATE_FILE);
  if (!fs.existsSync(file)) throw new CheckpointError(`${file}: not found — is ${dir} a checkpoint directory?`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (cause) {
    throw new CheckpointError(`${file}: not valid JSON`, { cause });
  }
  const parsed = CheckpointState.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckpointError(`${file}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

/** Name of the first tensor holding a NaN or ±Infinity, or null when all are finite. */
export function nonFinite(values: Map<string, Float32Array>): string | null {
  for (const [name, data] of values) {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return name;
  }
  return null;
}

/**
 * Loads a checkpoint's model. Every expected tensor must be present with its exact shape;
 * unexpected tensors are errors too.
 */
export function loadCheckpoint(dir: string): { model: Transformer; state: CheckpointState } {
  const state = readCheckpointState(dir);
  const file = path.join(dir, MODEL_FILE);
  if (!fs.existsSync(file)) throw new CheckpointError(`${file}: not found`);
  const { tensors } = decodeSafetensors(fs.readFileSync(file), file);
  const expected = new Map(parameterSpecs(state.model).map((s) => [s.name, s.shape]));
  for (const layer of state.model.moe_layers) expected.set(selectionBiasName(layer), [state.model.moe.num_experts]);
  checkTensors(file, tensors, expected);
  const values = new Map<string, Float32Array>();
  for (const [name, t] of tensors) values.set(name, t.data);
  // a model with NaN weights samples garbage and trains on NaN: refuse it at the door
  const bad = nonFinite(values);
  if (bad) throw new CheckpointError(`${file}: tensor ${bad} has non-finite values (NaN or Infinity)`);
  return { model: Transformer.fromValues(state.model, values), state };
}

/** Restores AdamW moments and t saved beside a checkpoint into an optimizer built for its model. */
export function restoreOptimizer(dir: string, state: CheckpointState, optimizer: AdamW): void {
  if (!state.optimizer) throw new CheckpointError(`${path.join(dir, STATE_FILE)}: no optimizer state was saved in this checkpoint`);
  const optFile = path.join(dir, state.optimizer.file);
  if (!fs.existsSync(optFile)) throw new CheckpointError(`${optFile}: not found`);
  const moments = new Map<string, Float32Array>();
  for (const [name, t] of decodeSafetensors(fs.readFileSync(optFile), optFile).tensors) moments.set(name, t.data);
  try {
    optimizer.load({ t: state.optimizer.t, moments });
  } catch (cause) {
    throw new CheckpointError(`${optFile}: ${(cause as Error).message}`, { cause });
  }
}

function checkTensors(file: string, found: Map<string, NamedTensor>, expected: Map<string, number[]>): void {
  for (const [name, shape] of expected) {
    const t = found.get(name);
    if (!t) throw new CheckpointError(`${file}: tensor ${name} [${shape}] is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`${file}: tensor ${name} has shape [${t.shape}], the config expects [${shape}]`);
    }
  }
  for (const name of found.keys()) {
    if (!expected.has(name)) throw new CheckpointError(`${file}: unexpected tensor ${name} (not part of this model config)`);
  }
}
