/**
 * Runs a user verifier module off the main thread, in a small pool of worker_threads, one call per
 * worker at a time. A synchronous infinite loop cannot be interrupted from inside its own thread, so
 * the time limit runs here: on timeout the worker is terminated and a fresh one is started. Loading
 * (import + export check) happens in the worker too, so a module's top-level code never runs here.
 */
import { Worker } from "node:worker_threads";
import type { Row } from "../datasets/row.ts";
import type { Verifier, VerifyContext, VerifyResult } from "./types.ts";
import type { VerifyCall, WorkerReply } from "./worker.ts";
import { UserError } from "../datasets/user-error.ts";

/** A verifier module that cannot be used: missing, failing to import, or exporting the wrong shape. */
export class VerifierLoadError extends UserError {
  override name = "VerifierLoadError";
  constructor(readonly where: string, readonly problem: string) {
    super(`${where}: ${problem}`);
  }
}

/** A verify call that ran past its time limit. */
export class VerifierTimeoutError extends Error {
  override name = "VerifierTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

interface Timed { result: unknown; timeMs: number }
interface Pending { call: VerifyCall; resolve: (r: Timed) => void; reject: (e: Error) => void; sentAt?: number }
interface Slot { worker: Worker; ready: Promise<string>; pending?: Pending; timer?: NodeJS.Timeout }

/** Worker bootstrap: register tsx (so .ts modules load), then run the entry. */
function bootstrap(): string {
  const tsx = import.meta.resolve("tsx/esm/api");
  const entryUrl = new URL("./worker.ts", import.meta.url).href;
  return `(async () => { const { register } = await import(${JSON.stringify(tsx)}); register();` +
    ` await import(${JSON.stringify(entryUrl)}); })();`; // a rejection here surfaces as the worker's "error"
}

export interface WorkerVerifierOptions {
  /** Workers kept running; calls beyond wait in a queue (their time limit starts on dispatch). */
  workers: number;
  /** Time allowed to import the module and check its export, in milliseconds. */
  loadTimeoutMs: number;
  /** V8 heap cap of each worker, in MiB: a runaway allocation ends that worker (its call gets reward 0), not the run. */
  heapMb?: number;
}

const DEFAULT_HEAP_MB = 512;

/** A user module's verifier running in worker threads; `verify` rejects with VerifierTimeoutError on timeout. */
export class WorkerVerifier implements Verifier {
  private slots: Slot[] = [];
  private queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  private constructor(readonly name: string, readonly file: string, private options: WorkerVerifierOptions) {}

  /** Starts the workers, waits for the module to load and pass the export check in each, and returns the verifier. */
  static async load(file: string, options: WorkerVerifierOptions): Promise<WorkerVerifier> {
    const started = Array.from({ length: Math.max(1, options.workers) }, () => spawn(file, options.loadTimeoutMs, options.heapMb ?? DEFAULT_HEAP_MB));
    let names: string[];
    try {
      names = await Promise.all(started.map((s) => s.ready));
    } catch (e) {
      await Promise.all(started.map((s) => s.worker.terminate()));
      throw e;
    }
    const v = new WorkerVerifier(names[0], file, options);
    v.slots = started.map((s) => v.attach({} as Slot, s));
    return v;
  }

  verify(completion: string, row: Row, ctx: VerifyContext): Promise<VerifyResult> {
    return this.verifyTimed(completion, row, ctx).then((t) => t.result as VerifyResult);
  }

  /** The worker's unchecked result and the milliseconds from dispatch to reply; rejects on timeout or a throw. */
  verifyTimed(completion: string, row: Row, ctx: VerifyContext): Promise<Timed> {
    if (this.closed) return Promise.reject(new Error(`verifier ${this.name} (${this.file}) is closed`));
    const call: VerifyCall = {
      id: this.nextId++, completion, row,
      ctx: { timeoutMs: ctx.timeoutMs, completionTokens: ctx.completionTokens, maxCompletionTokens: ctx.maxCompletionTokens },
    };
    return new Promise((resolve, reject) => {
      this.queue.push({ call, resolve, reject });
      this.pump();
    });
  }

  /** Stops every worker; calls still queued or running reject. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new Error(`verifier ${this.name} was closed`);
    for (const p of this.queue.splice(0)) p.reject(error);
    await Promise.all(this.slots.map((s) => {
      this.finish(s, error);
      return s.worker.terminate();
    }));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => !s.pending);
      if (!slot) return;
      this.dispatch(slot, this.queue.shift()!);
    }
  }

  /** Sends the call once the slot's worker is ready; the time limit starts then, not while queued. */
  private dispatch(slot: Slot, pending: Pending): void {
    slot.pending = pending;
    slot.ready.then(
      () => {
        if (slot.pending !== pending) return;
        pending.sentAt = performance.now();
        try {
          slot.worker.postMessage(pending.call);
        } catch (e) {
          // a row holding a function or a class instance cannot cross the thread boundary
          this.finish(slot, new Error(`cannot send the row to the worker: ${(e as Error).message}`));
          this.pump();
          return;
        }
        const timeoutMs = pending.call.ctx.timeoutMs;
        slot.timer = setTimeout(() => this.restart(slot, new VerifierTimeoutError(timeoutMs)), timeoutMs);
      },
      (e: Error) => slot.pending === pending && this.restart(slot, e),
    );
  }

  /** Puts a started worker in the slot and routes its replies and death there; a replaced worker is ignored. */
  private attach(slot: Slot, started: { worker: Worker; ready: Promise<string> }): Slot {
    const { worker } = started;
    slot.worker = worker;
    slot.ready = started.ready;
    worker.on("message", (m: WorkerReply) => {
      if (slot.worker !== worker || !slot.pending || !("id" in m) || m.id !== slot.pending.call.id) return;
      const { resolve, reject, sentAt = 0 } = slot.pending;
      this.finish(slot);
      if (m.type === "result") resolve({ result: m.result, timeMs: performance.now() - sentAt });
      else reject(new Error(m.message));
      this.pump();
    });
    // an uncaught error inside the worker (a throw in a timer callback) or process.exit ends it
    worker.on("error", (e) => slot.worker === worker && this.restart(slot, e));
    worker.on("exit", (code) => {
      if (slot.worker === worker && !this.closed) this.restart(slot, new Error(`worker exited with code ${code}`));
    });
    return slot;
  }

  /** Clears the slot; rejects its pending call with `error` when given. */
  private finish(slot: Slot, error?: Error): void {
    clearTimeout(slot.timer);
    const pending = slot.pending;
    slot.pending = undefined;
    slot.timer = undefined;
    if (error && pending) pending.reject(error);
  }

  /** Fails the slot's call, replaces its worker with a fresh one, and serves the queue. */
  private restart(slot: Slot, error: Error): void {
    this.finish(slot, error);
    if (this.closed) return;
    const old = slot.worker;
    this.attach(slot, spawn(this.file, this.options.loadTimeoutMs, this.options.heapMb ?? DEFAULT_HEAP_MB));
    void old.terminate();
    this.pump();
  }
}

/** Starts a worker for `file`; `ready` resolves with the verifier's name or rejects with a VerifierLoadError. */
function spawn(file: string, loadTimeoutMs: number, heapMb: number): { worker: Worker; ready: Promise<string> } {
  const worker = new Worker(bootstrap(), { eval: true, workerData: { file }, resourceLimits: { maxOldGenerationSizeMb: heapMb } });
  // unref: an idle pool must not keep the process alive; pending calls hold their own timers
  worker.unref();
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new VerifierLoadError(file, `did not load within ${loadTimeoutMs} ms`)), loadTimeoutMs);
    const done = () => clearTimeout(timer);
    worker.once("message", (m: WorkerReply) => {
      done();
      if (m.type === "ready") resolve(m.name);
      else reject(new VerifierLoadError(file, m.type === "load_error" ? m.message : "bug: worker spoke before loading"));
    });
    worker.once("error", (e) => { done(); reject(new VerifierLoadError(file, `cannot load the module: ${e.message}`)); });
    worker.once("exit", (code) => { done(); reject(new VerifierLoadError(file, `worker exited with code ${code} while loading`)); });
  });
  ready.catch(() => {}); // observed by dispatch() or load(); never an unhandled rejection
  return { worker, ready };
}
