/**
 * What every task generator returns, and the small draws they share. A generator turns a seeded
 * Rng and a level into one problem with its exact answer; index.ts adds the split and the row ids.
 */
import type { Rng } from "../rng.ts";

export type Language = "python" | "javascript";

/** Per-call options a generator may read; each task ignores the ones that are not its own. */
export interface TaskOptions {
  /** chain: operations per problem (overrides the level's default). */
  steps?: number;
  /** chain: label each operation a..z, A..Z (at most 52 operations). */
  labeled?: boolean;
  /** chain, labeled: spell operations as `a+3 b*2` instead of `a:add 3; b:double`. */
  compact?: boolean;
  /** chain: RC-format SFT rows (labeled; `steps` is then the largest chain drawn). */
  rcFormat?: { window: number; summaryShare: number; resumeShare?: number };
  /** program: the language of the row; unset draws one per row. */
  language?: Language;
}

/** One generated problem, before it becomes a Row. */
export interface Problem {
  /** The problem's content in one canonical spelling: its hash decides the split. */
  canonical: string;
  problem: string;
  solution: string;
  answer: string;
  level: number;
  /** Task-specific row fields the verifiers read (countdown: numbers, target; program: language, tests). */
  fields?: Record<string, unknown>;
}

export type TaskGenerator = (rng: Rng, level: number, options: TaskOptions) => Problem;

/** Integer in [lo, hi]. */
export function between(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/** One element of a non-empty list. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error("bug: pick from an empty list");
  return items[rng.int(items.length)];
}
