/**
 * The requests the serving engine holds: a Job per HTTP request (its sequences, their results, how
 * many of them are decoding), and the JobQueue of jobs with sequences still waiting for a place in
 * the batch. The queue is bounded in sequences, and hands out places fairly: each free place goes
 * to the waiting job with the fewest sequences running (the earliest first among equals), so a
 * small request is served at the next free place however large the requests before it are.
 */
import type { Sequence, SequenceResult, SequenceSpec, TokenEvent } from "./sequence.ts";

/** The request was dropped: its client went away, or the server is shutting down. */
export class CancelledError extends Error {
  override name = "CancelledError";
}

/** The queue has no room for the request's sequences; the client should retry later. */
export class QueueFullError extends Error {
  override name = "QueueFullError";
}

export interface JobCallbacks {
  /** Each token sequence `index` samples. */
  onToken?(index: number, event: TokenEvent): void;
  /** Sequence `index` is done (called after its last onToken). */
  onDone?(index: number, result: SequenceResult): void;
}

/** One request's sequences; `promise` resolves with their results in order, or rejects once. */
export class Job {
  /** The next sequence to start. */
  next = 0;
  /** Sequences of this job in the batch now. */
  running = 0;
  settled = false;
  readonly promise: Promise<SequenceResult[]>;
  private readonly results: SequenceResult[] = [];
  private remaining: number;
  private resolve!: (r: SequenceResult[]) => void;
  private reject!: (e: unknown) => void;

  constructor(
    readonly specs: SequenceSpec[],
    private readonly callbacks: JobCallbacks,
    private readonly signal?: AbortSignal,
  ) {
    this.remaining = specs.length;
    this.promise = new Promise((resolve, reject) => ((this.resolve = resolve), (this.reject = reject)));
    // a caller that stopped listening (its handler threw) must not turn a later cancel into an unhandled rejection
    this.promise.catch(() => {});
    if (specs.length === 0) this.settle();
  }

  /** True once the job is over early (failed, or its client went away): its sequences stop. */
  abandoned(): boolean {
    if (!this.settled && this.signal?.aborted) this.fail(new CancelledError("the client went away"));
    return this.settled;
  }

  /** Sequence `index` sampled a token; a callback that throws fails this job only. */
  token(index: number, seq: Sequence, event: TokenEvent): void {
    if (this.settled) return;
    try {
      this.callbacks.onToken?.(index, event);
      if (!seq.done) return;
      const result = seq.result();
      this.results[index] = result;
      this.callbacks.onDone?.(index, result);
      if (--this.remaining === 0) this.settle();
    } catch (err) {
      this.fail(err);
    }
  }

  fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }

  private settle(): void {
    this.settled = true;
    this.resolve(this.results);
  }
}

export class JobQueue {
  /** Jobs with sequences not started yet, in arrival order. */
  private jobs: Job[] = [];
  /** Sequences not started yet, all jobs together. */
  size = 0;

  constructor(private readonly capacity: number) {}

  /** Queues every sequence of `job`, or throws QueueFullError and queues none. */
  add(job: Job): void {
    this.purge();
    if (this.size + job.specs.length > this.capacity) {
      throw new QueueFullError(`the server is busy: ${this.size} sequences are waiting and this request adds ${job.specs.length}, past the queue's ${this.capacity}`);
    }
    if (job.specs.length === 0) return;
    this.jobs.push(job);
    this.size += job.specs.length;
  }

  /** Up to `room` sequences to start: each goes to the job with the fewest running, earliest first among equals. */
  take(room: number): { job: Job; index: number }[] {
    this.purge();
    const taken: { job: Job; index: number }[] = [];
    while (taken.length < room && this.jobs.length > 0) {
      let best = 0;
      for (let j = 1; j < this.jobs.length; j++) if (this.jobs[j].running < this.jobs[best].running) best = j;
      const job = this.jobs[best];
      taken.push({ job, index: job.next++ });
      job.running++;
      this.size--;
      if (job.next === job.specs.length) this.jobs.splice(best, 1);
    }
    return taken;
  }

  /** Fails every waiting job with `err`. */
  clear(err: Error): void {
    for (const job of this.jobs) job.fail(err);
    this.jobs = [];
    this.size = 0;
  }

  /** Drops the jobs that are over (failed, or their client went away) with their waiting sequences. */
  private purge(): void {
    this.jobs = this.jobs.filter((job) => {
      if (!job.abandoned()) return true;
      this.size -= job.specs.length - job.next;
      return false;
    });
  }
}
