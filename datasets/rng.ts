/**
 * Seeded, serializable random numbers (xoshiro128**). Every random draw in rlvr comes from one of
 * these, never Math.random(), so a seed fixes initialization, data order and sampling, and a resumed
 * run restores the exact stream from its saved state.
 */

/** SplitMix32 step: spreads a seed over the state words so nearby seeds give unrelated streams. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Mixes several integers (seed, step, prompt, sample…) into one 32-bit seed. */
export function deriveSeed(...keys: number[]): number {
  let h = 0x811c9dc5;
  for (const k of keys) {
    const next = splitmix32((h ^ (k >>> 0)) >>> 0);
    h = (next() ^ Math.imul(h, 0x01000193)) >>> 0;
  }
  return h >>> 0;
}

export class Rng {
  private s: Uint32Array;

  constructor(seed: number | number[]) {
    if (Array.isArray(seed)) {
      if (seed.length !== 4) throw new Error(`Rng state must have 4 words, got ${seed.length}`);
      this.s = Uint32Array.from(seed);
    } else {
      const mix = splitmix32(seed);
      this.s = Uint32Array.from([mix(), mix(), mix(), mix()]);
    }
    if (this.s.every((w) => w === 0)) this.s[0] = 1; // the all-zero state is a fixed point
  }

  /** A new independent generator for a sub-task, derived from this one's seed keys. */
  static forKeys(...keys: number[]): Rng {
    return new Rng(deriveSeed(...keys));
  }

  /** The 128-bit state, for checkpoints. */
  state(): number[] {
    return Array.from(this.s);
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller; one value per call keeps the stream position simple to restore). */
  normal(): number {
    const u = 1 - this.uniform(); // (0, 1]: log(0) would be -Infinity
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
