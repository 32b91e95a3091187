/**
 * The order training rows are drawn in: a seeded permutation per epoch (DataOrder), and
 * length-bucketed batches over it for supervised training (BatchPlan). Their cursors are all the
 * state a checkpoint needs, so a resumed run draws the same rows; the zod schemas validate a cursor
 * read back from state.json.
 */
import { z } from "zod";
import { Rng } from "../datasets/rng.ts";

/** Where a data order stands; a checkpoint's data_cursor is validated against it on resume. */
export const DataCursor = z.strictObject({ epoch: z.int().min(0), index: z.int().min(0) });
export type DataCursor = z.infer<typeof DataCursor>;

/** Data order: a fresh seeded permutation per epoch; the cursor (epoch, index) is all the state. */
export class DataOrder {
  private order: number[] = [];
  private orderEpoch = -1;
  constructor(private readonly size: number, private readonly seed: number, public cursor = { epoch: 0, index: 0 }) {
    if (size === 0) throw new Error("the training set is empty");
  }

  next(count: number): number[] {
    const out: number[] = [];
    while (out.length < count) {
      if (this.orderEpoch !== this.cursor.epoch) {
        this.order = new Rng([this.seed >>> 0, this.cursor.epoch >>> 0, 0x5f7d, 1]).shuffle(Array.from({ length: this.size }, (_, i) => i));
        this.orderEpoch = this.cursor.epoch;
      }
      out.push(this.order[this.cursor.index++]);
      if (this.cursor.index === this.size) this.cursor = { epoch: this.cursor.epoch + 1, index: 0 };
    }
    return out;
  }
}

/** A batch plan's state: the data-order cursor at the start of the current pool, and the pool's batches handed out. */
export const PlanState = DataCursor.extend({ offset: z.int().min(0) });
export type PlanState = z.infer<typeof PlanState>;

/**
 * Length-bucketed batches: a pool of `poolBatches` batches is drawn in data order, sorted by
 * length and cut into batches, which are then shuffled. Batches of similar lengths waste less
 * compute on padding; the state (pool start + offset) is all a resumed run needs.
 */
export class BatchPlan {
  private pool: number[][] = [];
  private start: { epoch: number; index: number };
  private offset: number;
  private readonly order: DataOrder;

  constructor(private readonly lengths: number[], private readonly batchSize: number, private readonly seed: number, state: PlanState = { epoch: 0, index: 0, offset: 0 }, private readonly poolBatches = 8) {
    this.order = new DataOrder(lengths.length, seed, { epoch: state.epoch, index: state.index });
    this.start = { epoch: state.epoch, index: state.index };
    this.offset = state.offset;
    if (this.offset > 0) this.fill();
  }

  get state(): PlanState {
    return { ...this.start, offset: this.offset };
  }

  next(): number[] {
    if (this.pool.length === 0 || this.offset === this.poolBatches) {
      this.start = { ...this.order.cursor };
      this.offset = 0;
      this.fill();
    }
    return this.pool[this.offset++];
  }

  private fill(): void {
    this.order.cursor = { ...this.start };
    const picked = this.order.next(this.batchSize * this.poolBatches);
    picked.sort((a, b) => this.lengths[a] - this.lengths[b] || a - b);
    const batches = Array.from({ length: this.poolBatches }, (_, i) => picked.slice(i * this.batchSize, (i + 1) * this.batchSize));
    this.pool = new Rng([this.seed >>> 0, this.start.epoch >>> 0, this.start.index >>> 0, 0xb0c]).shuffle(batches);
  }
}
