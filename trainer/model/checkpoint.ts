/**
 * Checkpoints: a directory holding `model.safetensors` (weights and the MoE selection-bias buffers,
 * named as `parameterSpecs` documents), `optimizer.safetensors` (AdamW moments "m.<param>",
 * "v.<param>") and `state.json` (model config, step, optimizer t, RNG state, data cursor, anything
 * the trainer adds). Saving writes a temporary sibling directory and renames it into place, so a
 * crash mid-save never leaves a half-written checkpoint under the final name.
 */
import fs from "node:fs";
import path from "node:path";
import { modelConfig, type ModelConfig } from "./config.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";
import { parameterSpecs, selectionBiasName, Transformer } from "./transformer.ts";
import type { AdamW } from "../optimizer.ts";
import { UserError } from "../user-error.ts";

export const MODEL_FILE = "model.safetensors";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const STATE_FILE = "state.json";

export interface CheckpointState {
  format: "rlvr-checkpoint-1";
  model: ModelConfig;
  step: number;
  optimizer?: { file: string; t: number };
  rng?: number[];
  data_cursor?: unknown;
  [extra: string]: unknown;
}

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

/** For CLI commands: a checkpoint's state, or its error on stderr as `rlvr <command>: <label>: …` and exit 1. */
export function readCheckpointStateOrExit(command: string, label: string, dir: string): CheckpointState {
  try {
    return readCheckpointState(dir);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    console.error(`rlvr ${command}: ${label}: ${e.message}`);
    process.exit(1);
  }
}

/** Reads state.json, validating its model config. */
export function readCheckpointState(dir: string): CheckpointState {
  const file = path.join(dir, STATE_FILE);
  if (!fs.existsSync(file)) throw new CheckpointError(`${file}: not found — is ${dir} a checkpoint directory?`);
  let state: CheckpointState;
  try {
    state = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (cause) {
    throw new CheckpointError(`${file}: not valid JSON`, { cause });
  }
  try {
    state.model = modelConfig(state.model);
  } catch (cause) {
    throw new CheckpointError(`${file}: ${(cause as Error).message}`, { cause });
  }
  return state;
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
  return { model: Transformer.fromValues(state.model, values), state };
}

/** Restores AdamW moments and t saved beside a checkpoint into an optimizer built for its model. */
export function restoreOptimizer(dir: string, state: CheckpointState, optimizer: AdamW): void {
  if (!state.optimizer) throw new CheckpointError(`${path.join(dir, STATE_FILE)}: no optimizer state was saved in this checkpoint`);
  const optFile = path.join(dir, state.optimizer.file);
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
