import * as tf from "@tensorflow/tfjs";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { lmLoss } from "../../trainer/lm.ts";
import { Transformer } from "../../trainer/model/transformer.ts";
import { Rng } from "../../datasets/rng.ts";
import { randomBatch, tinyConfig } from "../helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

// float32 central differences: h = 1e-2 keeps rounding error (~1e-7 · loss / h) far below the
// gradients checked, and the tolerance below absorbs the O(h²) truncation term.
const H = 1e-2;
const ATOL = 2e-4;
const RTOL = 2e-2;

test.each(["learned", "rope"] as const)("gradients of the full model (attention, MoE top-2, aux losses) match central differences (%s positions)", (positions) => {
  const config = tinyConfig({ positions, init_std: 0.3, moe: { num_experts: 4, top_k: 2, d_ff: 32, balance_coef: 0.5, z_loss_coef: 0.05 } });
  const model = Transformer.init(config, 3);
  const batch = randomBatch(2, 8, config.vocab_size, 4);
  const lossAndRouting = () =>
    tf.tidy(() => {
      const out = lmLoss(model, batch, true);
      return { loss: out.loss.dataSync()[0], routing: [...out.moe.values()].map((s) => Array.from(s.chosen).join(",")).join("|") };
    });
  const { grads } = tf.variableGrads(() => lmLoss(model, batch, true).loss, model.variables());
  const base = lossAndRouting();
  const rng = new Rng(11);
  let checked = 0;
  let skippedForRoutingFlip = 0;
  for (const [name, variable] of model.params) {
    // an expert no token reached has no gradient: its central difference must then be zero too
    const analytic = grads[variable.name]?.dataSync() ?? new Float32Array(variable.size);
    const values = variable.dataSync().slice() as Float32Array;
    for (let sample = 0; sample < 2; sample++) {
      const i = rng.int(values.length);
      const at = (delta: number) => {
        const v = values.slice();
        v[i] += delta;
        variable.assign(tf.tensor(v, variable.shape));
        return lossAndRouting();
      };
      const plus = at(H);
      const minus = at(-H);
      variable.assign(tf.tensor(values, variable.shape));
      // top-k selection is piecewise constant: across a routing change the loss has no derivative
      if (plus.routing !== base.routing || minus.routing !== base.routing) {
        skippedForRoutingFlip++;
        continue;
      }
      const numeric = (plus.loss - minus.loss) / (2 * H);
      expect(Math.abs(analytic[i] - numeric), `${name}[${i}]: analytic ${analytic[i]} vs numeric ${numeric}`).toBeLessThanOrEqual(ATOL + RTOL * Math.abs(numeric));
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(2 * model.params.size - 6);
  expect(skippedForRoutingFlip).toBeLessThan(6);
  tf.dispose(Object.values(grads));
  model.dispose();
});
