/**
 * The train/test split by content: a 32-bit FNV-1a hash of a problem's canonical string decides
 * its split, so one problem lands on the same side for every seed, count and run, and the two
 * splits are disjoint by construction. Does not draw problems; see index.ts.
 */

export type Split = "train" | "test";

/** 32-bit FNV-1a over the UTF-8 bytes of s. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(s)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The split of a canonical problem: test when its hash falls in the first testPercent of 10,000 buckets. */
export function splitOf(canonical: string, testPercent: number): Split {
  // 10,000 buckets, not 100, so a test_percent like 2.5 is honoured
  return fnv1a(canonical) % 10_000 < testPercent * 100 ? "test" : "train";
}
