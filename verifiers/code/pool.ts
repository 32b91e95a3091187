/**
 * A fixed-size pool of sandbox slots: at most `size` programs run at once, and each running
 * program owns a slot number, which picks its host uid (sandbox.ts). Owning the slot is the point:
 * RLIMIT_NPROC counts every process of a uid, so two programs must never share one, and a plain
 * concurrency limiter (p-limit) hands out no identities. piscina would add a worker thread per
 * job for work that is already a subprocess. So this is a small FIFO semaphore of slot numbers.
 * Does not contain what a job does (sandbox.ts) or how results are combined (index.ts).
 */
import { availableParallelism } from "node:os";
import { SLOTS_PER_PROCESS } from "./sandbox.ts";

// Slot numbers are unique across the pools of this process (slot 0 is the startup probe's), so
// two verifiers never hand out the same uid; they wrap after SLOTS_PER_PROCESS - 1 slots in all.
let nextSlot = 1;

export class SlotPool {
  private readonly free: number[];
  private readonly waiting: Array<(slot: number) => void> = [];

  /** `size` slots with process-unique numbers; defaults to the number of cores. */
  constructor(readonly size: number = availableParallelism()) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`code verifier: pool size must be a positive integer, got ${size}`);
    this.free = Array.from({ length: size }, (_, i) => 1 + ((nextSlot - 1 + i) % (SLOTS_PER_PROCESS - 1))).reverse();
    nextSlot += size;
  }

  /** Run `job` once a slot is free, passing it the slot number; the slot is released however it ends. */
  async run<T>(job: (slot: number) => Promise<T>): Promise<T> {
    const slot = await this.acquire();
    try {
      return await job(slot);
    } finally {
      this.release(slot);
    }
  }

  private acquire(): Promise<number> {
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}
