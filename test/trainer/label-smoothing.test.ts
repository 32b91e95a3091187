import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { lmLoss } from "../../trainer/lm.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { disposeBatch, randomBatch, tinyConfig } from "../helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

/** The label-smoothed cross-entropy from the logits in plain JS: −Σ_v q_v log p_v, q = (1−ε)·one-hot + ε/V. */
function smoothedCe(logits: number[][], targets: number[], mask: number[], eps: number): { ce: number; nll: number } {
  let ce = 0, nll = 0, n = 0;
  logits.forEach((row, i) => {
    if (!mask[i]) return;
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    const logp = row.map((x) => x - logZ);
    const V = row.length;
    ce -= logp.reduce((s, lp, v) => s + ((v === targets[i] ? 1 - eps : 0) + eps / V) * lp, 0);
    nll -= logp[targets[i]];
    n++;
  });
  return { ce: ce / n, nll: nll / n };
}

test("label smoothing ε gives the cross-entropy against (1−ε)·one-hot + ε·uniform, on masked tokens only; ε = 0 is the NLL", () => {
  const config = tinyConfig({ init_std: 0.5, moe_layers: [] });
  const model = Transformer.init(config, 7);
  const batch = randomBatch(2, 6, config.vocab_size, 3, 2);
  const mask = [1, 1, 0, 1, 1, 1, 1, 0];
  tf.dispose(batch.mask);
  batch.mask = tf.tensor2d(mask, [2, 4]);
  const logits = tf.tidy(() => {
    const { hidden } = model.forward(batch.tokens, { training: true });
    const scored = tf.reshape(tf.slice(hidden, [0, 2, 0], [2, 4, config.d_model]), [8, config.d_model]) as tf.Tensor2D;
    return model.logits(scored).arraySync();
  });
  const targets = Array.from(batch.targets.dataSync());
  for (const eps of [0, 0.1, 0.3]) {
    const expected = smoothedCe(logits, targets, mask, eps);
    const [loss, nll] = tf.tidy(() => {
      const out = lmLoss(model, batch, true, eps);
      return [out.loss.dataSync()[0], out.nll.dataSync()[0]];
    });
    expect(loss).toBeCloseTo(expected.ce, 4); // no MoE layer: no aux loss
    expect(nll).toBeCloseTo(expected.nll, 4);
  }
  disposeBatch(batch);
  model.dispose();
});
