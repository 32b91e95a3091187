/**
 * A worker thread of the data-parallel engine: its own tfjs backend and a replica of the run's
 * model, built from the shared weights, serving the requests of protocol.ts one at a time, in
 * order. It holds no optimizer: after each update the run writes the new weights to shared memory
 * and every replica loads them (`sync`), so the replicas stay bit-identical to the run's model.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendName } from "../backend.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { makeTokenizer } from "../model/tokenizer.ts";
import { selectionBiasName, Transformer } from "../model/transformer.ts";
import { sampleGroups } from "../sampler.ts";
import { buildMicroBatch, disposeMicroBatch, type MicroBatch, type PolicyReplica } from "../update.ts";
import { gradsToSlot } from "./data-parallel.ts";
import { readNamed } from "./allreduce.ts";
import { lmGradsToSlot } from "./lm-parallel.ts";
import type { GradReply, Reply, ReplyOf, Request, WorkerInit } from "./protocol.ts";

const init = workerData as WorkerInit;
const port = parentPort!;

/** tf.getBackend() names → the BackendName initBackend takes. */
const BACKEND: Record<string, BackendName> = { wasm: "wasm", cpu: "cpu", tensorflow: "node" };

async function start(): Promise<PolicyReplica> {
  await initBackend(BACKEND[init.backend] ?? "auto");
  const model = Transformer.fromValues(init.config, copy(readNamed(init.layout, init.weights)));
  return {
    model,
    tokenizer: makeTokenizer(init.config.tokenizer),
    grpo: init.grpo,
    reference: init.referenceBase ? loadCheckpoint(init.referenceBase).model : undefined,
  };
}

const copy = (m: Map<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v)]));

/** Loads the shared weights into the replica's variables and selection biases. */
function sync(r: PolicyReplica): void {
  const shared = readNamed(init.layout, init.weights);
  tf.tidy(() => {
    for (const [name, v] of r.model.params) v.assign(tf.tensor(Float32Array.from(shared.get(name)!), v.shape, "float32"));
  });
  for (const [layer, bias] of r.model.selectionBias) bias.set(shared.get(selectionBiasName(layer))!);
}

let micro: MicroBatch[] = [];

function grads(r: PolicyReplica, req: Extract<Request, { type: "grads" }>): GradReply[] {
  return micro.map((m, i) => gradsToSlot(r, init.params, m, req.activeTokensInStep, req.grads, req.slots[i]));
}

async function handle(r: PolicyReplica, req: Request): Promise<ReplyOf[Request["type"]]> {
  switch (req.type) {
    case "sync":
      sync(r);
      return null;
    case "sample": {
      const out = await sampleGroups(r.model, r.tokenizer, req.prompts, req.sampler, req.seed, req.promptOffset);
      return out;
    }
    case "batch": {
      micro.forEach(disposeMicroBatch);
      const timing = { old: 0, ref: 0 };
      micro = req.micro.map((s) => buildMicroBatch(r, s, timing));
      return { oldMs: timing.old, refMs: timing.ref };
    }
    case "grads":
      return grads(r, req);
    case "lm-grads":
      return req.micro.map((m, i) => lmGradsToSlot(r.model, init.params, m, req.labelSmoothing, req.grads, req.slots[i]));
    case "drop":
      micro.forEach(disposeMicroBatch);
      micro = [];
      return null;
    case "memory":
      // the model's causal masks are a cache that grows with each new sequence length, not a leak
      return { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, cachedMasks: (r.model as unknown as { maskCache: Map<string, unknown> }).maskCache.size };
    case "values":
      return [...r.model.values()];
    case "fail":
      // fault injection for the engine's tests: a worker that throws outside any request
      setImmediate(() => {
        throw new Error(`injected failure in worker ${init.rank}`);
      });
      return null;
  }
}

const post = (m: Reply) => port.postMessage(m);

try {
  const replica = await start();
  let queue = Promise.resolve();
  port.on("message", (req: Request & { id: number }) => {
    queue = queue.then(async () => {
      try {
        post({ id: req.id, ok: true, value: await handle(replica, req) });
      } catch (e) {
        post({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
      }
    });
  });
  post({ ready: true });
} catch (e) {
  post({ ready: false, error: e instanceof Error ? e.message : String(e) });
}
