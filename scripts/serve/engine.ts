/**
 * The serving engine: the decode loop every HTTP request shares. TensorFlow.js runs one kernel at a
 * time, so requests are batched rather than run in parallel: each request becomes one sequence per
 * choice, and the loop decodes one running batch a token at a time (continuous batching, as vLLM
 * does): between steps, waiting sequences join it — up to `maxBatch` in all — and finished or
 * abandoned ones leave it, so nobody waits for someone else's long generation to end. Sequences
 * from different requests, with different seeds, temperatures, stops and budgets, decode side by
 * side: sampling happens per row on the host. When idle, the loop waits `collectMs` before its
 * first step, so requests sent together join together.
 *
 * Places in the batch are shared fairly between requests, not first come first served: a free place
 * goes to the waiting request with the fewest sequences running, so a one-sequence request gets the
 * next place even behind a request of hundreds (see queue.ts). The waiting sequences of all requests
 * together are bounded (`maxQueue`): a request that would pass the bound is refused at once
 * (QueueFullError), never queued for minutes.
 *
 * Each sequence samples with its own generator, seeded by the server as `sampleGroups` seeds its
 * jobs, so a request's output does not depend on what it was batched with and equals
 * `sampleGroups` on the same prompts and seed.
 */
import type { Tokenizer } from "../../trainer/model/tokenizer.ts";
import type { Transformer } from "../../trainer/model/transformer.ts";
import { DecodeBatch, type Member } from "./batch.ts";
import { CancelledError, Job, JobQueue, type JobCallbacks } from "./queue.ts";
import { Sequence, type SequenceResult, type SequenceSpec, type TokenEvent } from "./sequence.ts";

export { CancelledError, QueueFullError } from "./queue.ts";

export interface EngineOptions {
  /** Sequences decoded together at most. */
  maxBatch: number;
  /** Wait this long (ms) before stepping from idle, to batch requests sent together. */
  collectMs?: number;
  /** Sequences waiting for a place in the batch, all requests together, at most. */
  maxQueue?: number;
}

type Running = Member & { job: Job };

export class Engine {
  private readonly queue: JobQueue;
  private batch: DecodeBatch<Running>;
  private running = false;
  private idle = Promise.resolve();
  /** Cancels the wait before the first step (close() does not wait out collectMs). */
  private cancelStart?: () => void;
  private closed = false;
  /** Decode steps so far, sequences that joined, and the largest batch a step decoded. */
  readonly stats = { steps: 0, sequences: 0, largestBatch: 0 };

  constructor(
    private readonly model: Transformer,
    private readonly tokenizer: Tokenizer,
    private readonly options: EngineOptions,
  ) {
    // streamed text decodes token ids as bytes (TextStream)
    if (tokenizer.kind !== "byte") throw new Error(`serving needs the byte tokenizer, not "${tokenizer.kind}"`);
    this.batch = new DecodeBatch(model, tokenizer.pad);
    this.queue = new JobQueue(options.maxQueue ?? Infinity);
  }

  /** Sequences waiting for a place in the batch. */
  get queued(): number {
    return this.queue.size;
  }

  /**
   * Queues one request's sequences; resolves with their results in order. Throws QueueFullError
   * (at once, nothing queued) when they would pass `maxQueue`. One failed sequence fails the
   * request, and an aborted signal drops it (CancelledError): its other sequences stop.
   */
  submit(specs: SequenceSpec[], callbacks: JobCallbacks = {}, signal?: AbortSignal): Promise<SequenceResult[]> {
    if (this.closed) throw new CancelledError("the server is shutting down");
    const context = this.model.config.context_length;
    const tooLong = specs.find((s) => s.prompt.length + s.maxTokens > context);
    if (tooLong) throw new Error(`bug: a sequence of ${tooLong.prompt.length} + ${tooLong.maxTokens} tokens does not fit the context`);
    const job = new Job(specs, callbacks, signal);
    this.queue.add(job);
    this.schedule();
    return job.promise;
  }

  /** One sequence: `submit` of one spec. */
  generate(spec: SequenceSpec, onToken?: (event: TokenEvent) => void, signal?: AbortSignal): Promise<SequenceResult> {
    return this.submit([spec], { onToken: onToken && ((_, e) => onToken(e)) }, signal).then((r) => r[0]);
  }

  /** Drops the waiting requests; resolves when the running ones are over (so the model is free). */
  close(): Promise<void> {
    this.closed = true;
    this.queue.clear(new CancelledError("the server is shutting down"));
    this.cancelStart?.();
    return this.idle;
  }

  private schedule(): void {
    if (this.running || this.queue.size === 0) return;
    this.running = true;
    this.idle = new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.cancelStart = undefined;
        void this.loop().finally(resolve);
      }, this.options.collectMs ?? 5);
      this.cancelStart = () => {
        clearTimeout(timer);
        this.running = false;
        resolve();
      };
    });
  }

  /** Never rejects: a failure fails the requests it touched, and the loop goes on with the others. */
  private async loop(): Promise<void> {
    try {
      for (;;) {
        this.decodeStep();
        if (this.batch.members.length === 0 && this.queue.size === 0) return;
        // let HTTP through (streamed chunks go out, new requests queue up, hang-ups are noticed)
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * One token for every running sequence, then newcomers join (with their first token), then
   * finished and abandoned ones leave — before anyone hears that their request is done, so its
   * cache rows are already freed.
   */
  private decodeStep(): void {
    let newcomers: Running[] = [];
    try {
      newcomers = this.take(this.options.maxBatch - this.batch.members.length);
      this.stats.largestBatch = Math.max(this.stats.largestBatch, this.batch.members.length);
      if (this.batch.members.length > 0) this.stats.steps++;
      this.batch.step();
      if (newcomers.length > 0) this.batch.join(newcomers);
      this.stats.sequences += newcomers.length;
      this.batch.retain((m) => {
        const keep = !m.seq.done && !m.job.abandoned();
        if (!keep) m.job.running--;
        return keep;
      });
    } catch (err) {
      // a failed forward pass (or cache update) leaves the cache unusable: fail the requests in it and start afresh
      for (const m of [...this.batch.members, ...newcomers]) m.job.fail(err);
      this.batch.dispose();
    }
  }

  /** Up to `room` waiting sequences, shared fairly between requests, as batch members. */
  private take(room: number): Running[] {
    return this.queue.take(room).map(({ job, index }) => {
      const seq = new Sequence(job.specs[index], this.tokenizer);
      return { seq, job, onToken: (event: TokenEvent) => job.token(index, seq, event) };
    });
  }
}
