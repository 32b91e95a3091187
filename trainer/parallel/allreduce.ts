/**
 * The shared memory of the data-parallel engine: named tensors laid out in one flat Float32 buffer
 * (the weights every replica loads after an update; one gradient slot per micro-batch), and the
 * fixed-order sum of the micro-batches' gradients. The sum adds slot 0, then 1, then 2 … in float32,
 * exactly as the single-process update adds its micro-batches' gradient tensors, so the summed
 * gradient, and everything after it, does not depend on how many workers computed the slots.
 */

/** Where each named tensor sits in a flat buffer. */
export interface Layout {
  names: string[];
  shapes: number[][];
  offsets: number[];
  sizes: number[];
  /** Floats in all. */
  total: number;
}

export function layoutOf(shapes: Map<string, number[]>): Layout {
  const layout: Layout = { names: [], shapes: [], offsets: [], sizes: [], total: 0 };
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    layout.names.push(name);
    layout.shapes.push(shape);
    layout.offsets.push(layout.total);
    layout.sizes.push(size);
    layout.total += size;
  }
  return layout;
}

/** A Float32 view of a new SharedArrayBuffer holding `slots` × layout.total floats. */
export function sharedFloats(floats: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(floats * Float32Array.BYTES_PER_ELEMENT));
}

/** Copies named values into `into` (at slot `slot`); a name the values lack is left as it was. */
export function writeNamed(layout: Layout, values: Map<string, Float32Array>, into: Float32Array, slot = 0): void {
  const base = slot * layout.total;
  layout.names.forEach((name, i) => {
    const v = values.get(name);
    if (v) into.set(v, base + layout.offsets[i]);
  });
}

/** Views (not copies) of each named tensor in `from` at slot `slot`. */
export function readNamed(layout: Layout, from: Float32Array, slot = 0): Map<string, Float32Array> {
  const base = slot * layout.total;
  return new Map(layout.names.map((name, i) => [name, from.subarray(base + layout.offsets[i], base + layout.offsets[i] + layout.sizes[i])]));
}

/**
 * Σ over slots 0, 1, 2 … of each tensor present in that slot, in slot order and in float32 (a JS
 * double sum of two float32 values rounds to the same float32 as the backend's add). A tensor no
 * slot has (an expert no token reached) is absent from the result, as in the single-process sum.
 */
export function sumSlots(layout: Layout, slots: Float32Array, present: boolean[][]): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  layout.names.forEach((name, i) => {
    let acc: Float32Array | undefined;
    for (let k = 0; k < present.length; k++) {
      if (!present[k][i]) continue;
      const start = k * layout.total + layout.offsets[i];
      const g = slots.subarray(start, start + layout.sizes[i]);
      if (!acc) {
        acc = Float32Array.from(g);
        continue;
      }
      for (let j = 0; j < acc.length; j++) acc[j] += g[j];
    }
    if (acc) out.set(name, acc);
  });
  return out;
}

/** a, a+1, … b−1: the slots of a rank's run of micro-batches. */
export const indices = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, k) => a + k);

/** Contiguous [start, end) chunks of `n` items over `parts` ranks, the first ranks taking one more when it does not divide. */
export function chunks(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let r = 0; r < parts; r++) {
    const size = Math.floor(n / parts) + (r < n % parts ? 1 : 0);
    out.push([start, start + size]);
    start += size;
  }
  return out;
}
