/**
 * The running batch of the serving engine: the sequences being decoded and their shared KV cache.
 * Sequences join and leave between steps (continuous batching). Rows are left-padded so that they
 * all end at the cache's last position; the model masks each row's padding and counts its
 * positions from its first real token, so a row's numbers do not depend on its batch-mates.
 *
 * Joining prefills the newcomers' prompts in a cache of their own and merges it in, left-padding
 * whichever side is shorter. Leaving gathers the remaining rows and trims the padding columns every
 * row has. The cache is therefore never longer than the longest remaining sequence, which a request
 * was already checked to fit in the context.
 */
import * as tf from "@tensorflow/tfjs";
import { KVCache, type Transformer } from "../../trainer/model/transformer.ts";
import { lastLogits } from "../../trainer/sampler.ts";
import type { Sequence, TokenEvent } from "./sequence.ts";

export interface Member {
  seq: Sequence;
  /** Called with every token the sequence samples. */
  onToken(event: TokenEvent): void;
}

export class DecodeBatch<M extends Member> {
  members: M[] = [];
  private cache?: KVCache;

  constructor(
    private readonly model: Transformer,
    private readonly padToken: number,
  ) {}

  /** One token for every member (none may be done: `retain` removes finished ones). */
  step(): void {
    if (!this.cache || this.members.length === 0) return;
    const logits = lastLogits(this.model, this.members.map((m) => [m.seq.last]), this.cache);
    sampleRows(this.members, logits);
  }

  /** Prefills the newcomers' prompts and samples their first token; they step with the rest from now on. */
  join(newcomers: M[]): void {
    const P = Math.max(...newcomers.map((m) => m.seq.spec.prompt.length));
    const padding = newcomers.map((m) => P - m.seq.spec.prompt.length);
    const cache = new KVCache(this.model.config.n_layers, padding);
    let logits: Float32Array;
    try {
      logits = lastLogits(this.model, newcomers.map((m, b) => [...new Array<number>(padding[b]).fill(this.padToken), ...m.seq.spec.prompt]), cache);
    } catch (err) {
      cache.dispose();
      throw err;
    }
    try {
      this.merge(cache);
    } catch (err) {
      cache.dispose();
      throw err;
    }
    this.members.push(...newcomers);
    sampleRows(newcomers, logits);
  }

  /** Keeps the members `keep` accepts, in order; the others' rows leave the cache. */
  retain(keep: (m: M) => boolean): void {
    const rows = this.members.flatMap((m, b) => (keep(m) ? [b] : []));
    if (rows.length === this.members.length) return;
    this.members = rows.map((b) => this.members[b]);
    const old = this.cache!;
    if (rows.length === 0) {
      old.dispose();
      this.cache = undefined;
      return;
    }
    this.cache = old.keepRows(rows);
  }

  dispose(): void {
    this.cache?.dispose();
    this.cache = undefined;
    this.members = [];
  }

  /** Appends a newcomers' cache as new rows, left-padding the shorter side to the longer length. */
  private merge(incoming: KVCache): void {
    const current = this.cache;
    if (!current) {
      this.cache = incoming;
      return;
    }
    const length = Math.max(current.length, incoming.length);
    const padOf = (c: KVCache, b: number) => (c.padding?.[b] ?? 0) + length - c.length;
    const padding = [...this.members.map((_, b) => padOf(current, b)), ...(incoming.padding ?? []).map((_, b) => padOf(incoming, b))];
    const left = (t: tf.Tensor4D, n: number) => (n > 0 ? tf.pad(t, [[0, 0], [0, 0], [n, 0], [0, 0]]) : t);
    const others = { keys: incoming.keys, values: incoming.values };
    this.cache = this.rebuild(current, padding, length, (t, kind, layer) =>
      tf.concat([left(t, length - current.length), left(others[kind][layer]!, length - incoming.length)], 0),
    );
    incoming.dispose();
  }

  /** A new cache from each layer's K and V of `old` through `f`; `old` is disposed. */
  private rebuild(old: KVCache, padding: number[], length: number, f: (t: tf.Tensor4D, kind: "keys" | "values", layer: number) => tf.Tensor): KVCache {
    const next = new KVCache(this.model.config.n_layers, padding);
    try {
      for (const kind of ["keys", "values"] as const) {
        old[kind].forEach((t, layer) => (next[kind][layer] = tf.tidy(() => f(t!, kind, layer) as tf.Tensor4D)));
      }
    } catch (err) {
      next.dispose();
      throw err;
    }
    next.length = length;
    old.dispose();
    return next;
  }
}

/** Each member samples its next token from its row of logits [B·V]. */
function sampleRows(members: Member[], logits: Float32Array): void {
  const V = logits.length / members.length;
  members.forEach((m, b) => m.onToken(m.seq.step(logits.subarray(b * V, (b + 1) * V))));
}

