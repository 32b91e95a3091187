/**
 * The serving engine: the decode loop every HTTP request shares. TensorFlow.js runs one kernel at a
 * time, so requests are batched rather than run in parallel: each request becomes one sequence per
 * choice, sequences wait in a FIFO queue, and the loop decodes one running batch a token at a time
 * (continuous batching, as vLLM does): between steps, queued sequences join it — up to `maxBatch`
 * in all — and finished or abandoned ones leave it, so nobody waits for someone else's long
 * generation to end. Sequences from different requests, with different seeds, temperatures, stops
 * and budgets, decode side by side: sampling happens per row on the host. When idle, the loop
 * waits `collectMs` before its first step, so requests sent together join together.
 *
 * Each sequence samples with its own generator, seeded by the server as `sampleGroups` seeds its
 * jobs, so a request's output does not depend on what it was batched with and equals
 * `sampleGroups` on the same prompts and seed.
 */
import type { Tokenizer } from "../../trainer/model/tokenizer.ts";
import type { Transformer } from "../../trainer/model/transformer.ts";
import { DecodeBatch, type Member } from "./batch.ts";
import { Sequence, type SequenceResult, type SequenceSpec, type TokenEvent } from "./sequence.ts";

export interface EngineOptions {
  /** Sequences decoded together at most. */
  maxBatch: number;
  /** Wait this long (ms) before stepping from idle, to batch requests sent together. */
  collectMs?: number;
}

export class CancelledError extends Error {
  override name = "CancelledError";
}

interface Pending {
  spec: SequenceSpec;
  onToken?: (event: TokenEvent) => void;
  resolve: (r: SequenceResult) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
}

type Running = Member & { pending: Pending };

export class Engine {
  private readonly queue: Pending[] = [];
  private batch: DecodeBatch<Running>;
  private running = false;
  private idle = Promise.resolve();
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
  }

  /** Queues one sequence; `onToken` sees each sampled token; an aborted signal drops it (CancelledError). */
  generate(spec: SequenceSpec, onToken?: (event: TokenEvent) => void, signal?: AbortSignal): Promise<SequenceResult> {
    if (this.closed) return Promise.reject(new CancelledError("the server is shutting down"));
    if (spec.prompt.length + spec.maxTokens > this.model.config.context_length) {
      return Promise.reject(new Error(`bug: a sequence of ${spec.prompt.length} + ${spec.maxTokens} tokens does not fit the context`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ spec, onToken, resolve, reject, signal });
      this.schedule();
    });
  }

  /** Rejects queued sequences; resolves when the running ones are over (so the model is free). */
  close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new CancelledError("the server is shutting down"));
    return this.idle;
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    this.idle = new Promise((resolve) => setTimeout(() => void this.loop().finally(resolve), this.options.collectMs ?? 5));
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        this.decodeStep();
        if (this.batch.members.length === 0 && this.queue.length === 0) return;
        // let HTTP through (streamed chunks go out, new requests queue up, hang-ups are noticed)
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * One token for every running sequence, then newcomers join (with their first token), then
   * finished and abandoned ones leave — before anyone hears that their sequence is done, so its
   * cache rows are already freed.
   */
  private decodeStep(): void {
    const newcomers = this.take(this.options.maxBatch - this.batch.members.length);
    try {
      this.stats.largestBatch = Math.max(this.stats.largestBatch, this.batch.members.length);
      if (this.batch.members.length > 0) this.stats.steps++;
      this.batch.step();
      if (newcomers.length > 0) this.batch.join(newcomers);
      this.stats.sequences += newcomers.length;
    } catch (err) {
      // a failed forward pass leaves the cache unusable: fail what was in it and start afresh
      for (const m of new Set([...this.batch.members, ...newcomers])) if (!m.seq.done) m.pending.reject(err);
      this.batch.dispose();
      return;
    }
    this.batch.retain((m) => !m.seq.done && !this.abandoned(m));
  }

  /** Up to `room` queued sequences, FIFO, as batch members; the ones whose client left are dropped. */
  private take(room: number): Running[] {
    const taken = this.queue.splice(0, Math.max(0, room));
    const wanted = taken.filter((p) => !p.signal?.aborted);
    for (const p of taken) if (p.signal?.aborted) p.reject(new CancelledError("the client went away"));
    return wanted.map((pending) => {
      const seq = new Sequence(pending.spec, this.tokenizer);
      const onToken = (event: TokenEvent) => {
        pending.onToken?.(event);
        if (seq.done) pending.resolve(seq.result());
      };
      return { seq, onToken, pending };
    });
  }

  private abandoned(m: Running): boolean {
    if (!m.pending.signal?.aborted) return false;
    m.pending.reject(new CancelledError("the client went away"));
    return true;
  }
}
