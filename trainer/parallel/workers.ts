/**
 * The data-parallel engine's workers: `train.workers` = N ranks, rank 0 being the run's own model
 * on the main thread and ranks 1 … N-1 worker threads, each with its own tfjs backend and a replica
 * of the model (DDP's layout on one node; one wasm backend uses one core). The pool starts the
 * threads from the run's weights, forwards requests, keeps the replicas' weights current through
 * shared memory, and turns a thread that throws or exits into a WorkerError naming it, after
 * which every request fails and close() leaves no thread behind.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { UserError } from "../../datasets/user-error.ts";
import { GrpoConfig } from "../grpo.ts";
import type { Transformer } from "../model/transformer.ts";
import { layoutOf, sharedFloats, writeNamed, type Layout } from "./allreduce.ts";
import type { Reply, ReplyOf, Request, WorkerInit } from "./protocol.ts";

/** The most ranks workers: 0 starts (each rank holds a replica and ~0.8 GB of working memory). */
export const AUTO_MAX_RANKS = 8;

/** The engine's setting, declared once and spread into each trainer's train config. */
export const ParallelConfig = {
  workers: z.int().min(0).max(64).default(0)
    .describe(`Data-parallel ranks (the main thread and workers-1 worker threads, each with its own backend and model replica): a step's prompts and its micro-batches are split across them, gradients are summed in a fixed order and one optimizer update keeps the replicas identical, so the run's metrics do not depend on this number. The update splits whole micro-batches: set micro_batch_size to at most the step's completions / workers. 0 (the default) = one rank per core, at most ${AUTO_MAX_RANKS}, on the wasm and cpu backends (each uses one core), fewer when there are fewer micro-batches to share, and 1 on the tfjs-node backends (they use every core already and refuse more than 1). 1 = one process.`),
};

/** Whether the current backend runs on one core (wasm, cpu), so that more ranks can help; tfjs-node uses them all. */
const oneCoreBackend = () => ["wasm", "cpu"].includes(tf.getBackend());

/**
 * The ranks a run gets for its workers setting, once the backend is chosen: a number ≥ 1 as set;
 * 0 = one per core (at most AUTO_MAX_RANKS and at most `shareable`, the micro-batches a step has to
 * deal out) on wasm or cpu, else 1.
 */
export function rankCount(setting: number, shareable = Number.POSITIVE_INFINITY): number {
  if (setting > 0) return setting;
  if (!oneCoreBackend()) return 1;
  return Math.max(1, Math.min(os.availableParallelism(), AUTO_MAX_RANKS, shareable));
}

/** A worker thread that failed: it threw, exited, or could not start. */
export class WorkerError extends Error {
  override name = "WorkerError";
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

class Rank {
  readonly pending = new Map<number, Pending>();
  failure: WorkerError | undefined;
  exited = false;
  private nextId = 0;

  constructor(readonly rank: number, readonly worker: Worker, readonly of: number) {}

  request<T extends Request["type"]>(req: Extract<Request, { type: T }>): Promise<ReplyOf[T]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  fail(why: string): void {
    this.failure ??= new WorkerError(`worker ${this.rank} of ${this.of} (thread ${this.worker.threadId}) ${why}`);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}

export class WorkerPool {
  /** The weights every replica loads (the run's model's values() in `layout`). */
  private readonly weights: Float32Array;
  private gradBuffer = sharedFloats(0);
  private closed = false;

  private constructor(private readonly ranks: Rank[], readonly layout: Layout, readonly params: Layout, weights: Float32Array) {
    this.weights = weights;
  }

  /** Ranks, the main thread's included. */
  get size(): number {
    return this.ranks.length + 1;
  }

  /** Starts `workers - 1` threads with replicas of `model`; rejects (and stops them all) if any fails to start. */
  static async start(model: Transformer, o: { workers: number; grpo?: GrpoConfig; referenceBase?: string; setting?: string }): Promise<WorkerPool> {
    // tfjs-node runs each op on all cores already: replicas would only compete for them
    if (!oneCoreBackend()) throw new UserError(`${o.setting ?? "train.workers"} ${o.workers} needs the wasm or cpu backend; the ${tf.getBackend()} backend already uses every core: run with workers 1`);
    const layout = layoutOf(model.shapes());
    const params = layoutOf(new Map([...model.params].map(([name, v]) => [name, v.shape])));
    const weights = sharedFloats(layout.total);
    writeNamed(layout, model.values(), weights);
    const ranks: Rank[] = [];
    const ready: Promise<void>[] = [];
    for (let rank = 1; rank < o.workers; rank++) {
      const init: WorkerInit = { rank, backend: tf.getBackend(), config: model.config, layout, weights, params, grpo: o.grpo ?? GrpoConfig.parse({}), referenceBase: o.referenceBase };
      const worker = new Worker(new URL("./worker-entry.mjs", import.meta.url), { workerData: init });
      const r = new Rank(rank, worker, o.workers);
      ranks.push(r);
      ready.push(new Promise<void>((resolve, reject) => {
        worker.on("message", (m: Reply) => {
          if ("ready" in m) return m.ready ? resolve() : (r.fail(`failed to start: ${m.error}`), reject(r.failure));
          const p = r.pending.get(m.id);
          if (!p) return;
          r.pending.delete(m.id);
          if (m.ok) p.resolve(m.value);
          else p.reject(new WorkerError(`worker ${rank} of ${o.workers} failed: ${m.error}`));
        });
        worker.on("error", (e) => {
          r.fail(`died: ${e.message}`);
          reject(r.failure);
        });
        worker.on("exit", (code) => {
          r.exited = true;
          r.fail(`exited (code ${code})`);
          reject(r.failure);
        });
      }));
    }
    const pool = new WorkerPool(ranks, layout, params, weights);
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Sends one request to worker `rank` (1 … size-1). */
  request<T extends Request["type"]>(rank: number, req: Extract<Request, { type: T }>): Promise<ReplyOf[T]> {
    return this.ranks[rank - 1].request(req);
  }

  /** Every worker's reply to the same request, in rank order. */
  all<T extends Request["type"]>(req: Extract<Request, { type: T }>): Promise<ReplyOf[T][]> {
    return Promise.all(this.ranks.map((r) => r.request(req)));
  }

  /** Writes `model`'s weights to shared memory and has every replica load them. */
  async sync(model: Transformer): Promise<void> {
    writeNamed(this.layout, model.values(), this.weights);
    await this.all({ type: "sync" });
  }

  /** A shared buffer of at least `slots` gradient slots (reused from step to step). */
  gradSlots(slots: number): Float32Array {
    if (this.gradBuffer.length < slots * this.params.total) this.gradBuffer = sharedFloats(slots * this.params.total);
    return this.gradBuffer;
  }

  /** The first failure of any worker, if one failed. */
  get failure(): WorkerError | undefined {
    return this.ranks.find((r) => r.failure)?.failure;
  }

  /** Threads still running (0 after close()). */
  get alive(): number {
    return this.ranks.filter((r) => !r.exited).length;
  }

  /** Stops every thread and waits until each has exited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.ranks.map(async (r) => {
      // before terminate(), whose exit (code 1) would read as a crash to a request still waiting
      r.fail("was stopped: its pool was closed");
      if (!r.exited) await r.worker.terminate();
      r.exited = true;
    }));
  }
}
