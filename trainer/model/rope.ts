/** Rotary position embeddings (RoPE): the angles of a forward pass's positions, and the rotation of q and k. */
import * as tf from "@tensorflow/tfjs";

/** cos and sin of every (position, frequency) of a forward pass: [B or 1, 1, T, d_head/2]. */
export interface Rotation {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
}

/** RoPE angles for the positions of this pass (left padding shifts each row's positions, as above). */
export function rotation(padding: number[] | undefined, B: number, T: number, offset: number, dHead: number, theta: number): Rotation {
  const half = dHead / 2;
  const rows = padding ? B : 1;
  const cos = new Float32Array(rows * T * half);
  const sin = new Float32Array(rows * T * half);
  for (let b = 0; b < rows; b++) {
    for (let t = 0; t < T; t++) {
      const pos = Math.max(0, offset + t - (padding?.[b] ?? 0));
      for (let i = 0; i < half; i++) {
        const angle = pos * theta ** (-(2 * i) / dHead);
        cos[(b * T + t) * half + i] = Math.cos(angle);
        sin[(b * T + t) * half + i] = Math.sin(angle);
      }
    }
  }
  return { cos: tf.tensor4d(cos, [rows, 1, T, half]), sin: tf.tensor4d(sin, [rows, 1, T, half]) };
}

/** Rotate-half RoPE of x [B, H, T, dh]: (x1, x2) → (x1·cos − x2·sin, x1·sin + x2·cos). */
export function rotate(x: tf.Tensor4D, r: Rotation): tf.Tensor4D {
  const [B, H, T, dh] = x.shape;
  const half = dh / 2;
  const x1 = tf.slice(x, [0, 0, 0, 0], [B, H, T, half]);
  const x2 = tf.slice(x, [0, 0, 0, half], [B, H, T, half]);
  return tf.concat([tf.sub(tf.mul(x1, r.cos), tf.mul(x2, r.sin)), tf.add(tf.mul(x1, r.sin), tf.mul(x2, r.cos))], 3) as tf.Tensor4D;
}
