/**
 * Decoder-only transformer: token embeddings tied with the output head, learned absolute position
 * embeddings, pre-norm blocks of causal multi-head attention (with a KV cache for incremental
 * decoding) and a GELU FFN or a mixture-of-experts FFN, then a final norm. Parameter names are
 * stable: they are the safetensors tensor names (see `parameterSpecs`).
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../datasets/rng.ts";
import type { ModelConfig } from "./config.ts";
import { layerNorm, linear, matmulPlain, rmsNorm, ffn, type FfnWeights } from "./layers.ts";
import { KVCache, prefixMatMul } from "./kv-cache.ts";
import { rotate, rotation, type Rotation } from "./rope.ts";
import { moeForward, moeOutput, updateSelectionBias, type MoeStats, type MoeWeights } from "./moe.ts";

export interface ParamSpec {
  name: string;
  shape: number[];
  init: "normal" | "zeros" | "ones";
}

/**
 * Every trainable tensor, in a fixed order. Matrices are stored [in, out] (PyTorch's Linear stores
 * [out, in]); `tok_emb.weight` is [vocab, d] and doubles as the output head.
 */
export function parameterSpecs(c: ModelConfig): ParamSpec[] {
  const d = c.d_model;
  const specs: ParamSpec[] = [
    { name: "tok_emb.weight", shape: [c.vocab_size, d], init: "normal" },
  ];
  if (c.positions === "learned") specs.push({ name: "pos_emb.weight", shape: [c.context_length, d], init: "normal" });
  const norm = (prefix: string) => {
    specs.push({ name: `${prefix}.weight`, shape: [d], init: "ones" });
    if (c.norm === "layernorm") specs.push({ name: `${prefix}.bias`, shape: [d], init: "zeros" });
  };
  const lin = (prefix: string, din: number, dout: number) => {
    specs.push({ name: `${prefix}.weight`, shape: [din, dout], init: "normal" });
    specs.push({ name: `${prefix}.bias`, shape: [dout], init: "zeros" });
  };
  const ffnSpecs = (prefix: string, dff: number) => {
    lin(`${prefix}.fc`, d, dff);
    lin(`${prefix}.proj`, dff, d);
  };
  for (let i = 0; i < c.n_layers; i++) {
    const p = `layers.${i}`;
    norm(`${p}.ln1`);
    lin(`${p}.attn.q`, d, d);
    lin(`${p}.attn.k`, d, d);
    lin(`${p}.attn.v`, d, d);
    lin(`${p}.attn.proj`, d, d);
    norm(`${p}.ln2`);
    if (c.moe_layers.includes(i)) {
      specs.push({ name: `${p}.moe.router.weight`, shape: [d, c.moe.num_experts], init: "normal" });
      for (let e = 0; e < c.moe.num_experts; e++) ffnSpecs(`${p}.moe.experts.${e}`, c.moe.d_ff);
      if (c.moe.shared_expert) ffnSpecs(`${p}.moe.shared`, c.moe.d_ff);
    } else ffnSpecs(`${p}.ffn`, c.d_ff);
  }
  norm("ln_f");
  return specs;
}

/** Name of the non-trainable selection-bias buffer of MoE layer i (saved beside the weights). */
export const selectionBiasName = (layer: number) => `layers.${layer}.moe.router.selection_bias`;

export { KVCache, rotate, rotation };

export interface ForwardOptions {
  /** Apply MoE capacity limits (training only). */
  training?: boolean;
  /** Decode incrementally: reads and extends this cache; positions start at cache.length. */
  cache?: KVCache;
  /** Left-padding per row (without a cache; a cache carries its own): those keys are masked. */
  padding?: number[];
  /**
   * Compute the MoE aux losses and routing statistics (default true). Decoding passes false: the
   * hidden states are the same, `aux` is 0 and `moe` empty.
   */
  stats?: boolean;
}

export interface ForwardResult {
  /** Final-norm hidden states [B, T, d]; `logits()` turns rows of it into vocabulary scores. */
  hidden: tf.Tensor3D;
  /** Sum of the MoE auxiliary losses (balance + z-loss) over layers, already weighted. */
  aux: tf.Scalar;
  /** Routing statistics per MoE layer, keyed by layer index. */
  moe: Map<number, MoeStats>;
}

export class Transformer {
  readonly params: Map<string, tf.Variable>;
  /** Aux-free selection bias per MoE layer (not trained by gradients; updated by `updateRouterBias`). */
  readonly selectionBias: Map<number, Float32Array>;
  private readonly maskCache = new Map<string, tf.Tensor2D>();

  private constructor(readonly config: ModelConfig, params: Map<string, tf.Variable>, bias: Map<number, Float32Array>) {
    this.params = params;
    this.selectionBias = bias;
  }

  /** A freshly initialized model: N(0, init_std) matrices and embeddings, zero biases, unit norms. */
  static init(config: ModelConfig, seed: number): Transformer {
    const rng = new Rng(seed);
    const values = new Map<string, Float32Array>();
    for (const spec of parameterSpecs(config)) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (spec.init === "ones") data.fill(1);
      else if (spec.init === "normal") for (let i = 0; i < size; i++) data[i] = rng.normal() * config.init_std;
      values.set(spec.name, data);
    }
    return Transformer.fromValues(config, values);
  }

  /** A model from named values (a checkpoint); names and sizes must match `parameterSpecs` exactly. */
  static fromValues(config: ModelConfig, values: Map<string, Float32Array>): Transformer {
    const params = new Map<string, tf.Variable>();
    for (const spec of parameterSpecs(config)) {
      const data = values.get(spec.name);
      if (!data) throw new Error(`missing parameter ${spec.name} [${spec.shape}]`);
      // the tidy frees the initial tensor; the variable keeps its own reference to the data
      params.set(spec.name, tf.tidy(() => tf.variable(tf.tensor(data, spec.shape, "float32"), true, spec.name + ":" + uid())));
    }
    const bias = new Map<number, Float32Array>();
    for (const layer of config.moe_layers) {
      bias.set(layer, Float32Array.from(values.get(selectionBiasName(layer)) ?? new Float32Array(config.moe.num_experts)));
    }
    return new Transformer(config, params, bias);
  }

  /** All named values (parameters and selection-bias buffers), read out of the backend. */
  values(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.params) out.set(name, v.dataSync() as Float32Array);
    for (const [layer, b] of this.selectionBias) out.set(selectionBiasName(layer), Float32Array.from(b));
    return out;
  }

  /** Shapes of everything `values()` returns. */
  shapes(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [name, v] of this.params) out.set(name, v.shape);
    for (const [layer] of this.selectionBias) out.set(selectionBiasName(layer), [this.config.moe.num_experts]);
    return out;
  }

  get parameterCount(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  private p(name: string): tf.Tensor {
    const v = this.params.get(name);
    if (!v) throw new Error(`bug: no parameter ${name}`);
    return v;
  }

  private ffnWeights(prefix: string): FfnWeights {
    return {
      fcW: this.p(`${prefix}.fc.weight`) as tf.Tensor2D,
      fcB: this.p(`${prefix}.fc.bias`) as tf.Tensor1D,
      projW: this.p(`${prefix}.proj.weight`) as tf.Tensor2D,
      projB: this.p(`${prefix}.proj.bias`) as tf.Tensor1D,
    };
  }

  private norm(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    const w = this.p(`${prefix}.weight`) as tf.Tensor1D;
    if (this.config.norm === "rmsnorm") return rmsNorm(x, w, this.config.norm_eps);
    return layerNorm(x, w, this.p(`${prefix}.bias`) as tf.Tensor1D, this.config.norm_eps);
  }

  /** tokens [B, T] int32 → hidden states [B, T, d] (run inside tf.tidy, or dispose the result). */
  forward(tokens: tf.Tensor2D, options: ForwardOptions = {}): ForwardResult {
    const [B, T] = tokens.shape;
    const c = this.config;
    const offset = options.cache?.length ?? 0;
    if (offset + T > c.context_length) {
      throw new Error(`sequence of ${offset + T} tokens exceeds the model's context_length ${c.context_length}`);
    }
    const padding = options.cache?.padding ?? options.padding;
    const padded = padding?.some((n) => n > 0) ? padding : undefined;
    const flat = tf.reshape(tokens, [B * T]);
    const tok = tf.gather(this.p("tok_emb.weight"), flat); // [BT, d]
    let x = tok as tf.Tensor2D;
    let rope: Rotation | undefined;
    if (c.positions === "learned") {
      const pos = padded
        ? tf.reshape(tf.gather(this.p("pos_emb.weight"), paddedPositions(padded, T, offset)), [B, T, c.d_model]) // [B, T, d]
        : tf.slice(this.p("pos_emb.weight"), [offset, 0], [T, c.d_model]); // [T, d]
      x = tf.reshape(tf.add(tf.reshape(tok, [B, T, c.d_model]), pos), [B * T, c.d_model]) as tf.Tensor2D;
    } else rope = rotation(padded, B, T, offset, c.d_model / c.n_heads, c.rope_theta);
    const keyBias = padded ? paddingBias(padded, offset + T) : undefined;
    let aux: tf.Scalar = tf.scalar(0);
    const moe = new Map<number, MoeStats>();
    for (let i = 0; i < c.n_layers; i++) {
      x = tf.add(x, this.attention(i, this.norm(`layers.${i}.ln1`, x), B, T, offset, options.cache, keyBias, rope)) as tf.Tensor2D;
      const h = this.norm(`layers.${i}.ln2`, x);
      if (c.moe_layers.includes(i) && options.stats === false) {
        x = tf.add(x, moeOutput(h, this.moeWeights(i), c.moe, this.selectionBias.get(i) ?? null, options.training ?? false).y) as tf.Tensor2D;
      } else if (c.moe_layers.includes(i)) {
        const out = moeForward(h, this.moeWeights(i), c.moe, this.selectionBias.get(i) ?? null, options.training ?? false);
        x = tf.add(x, out.y) as tf.Tensor2D;
        aux = tf.add(aux, out.aux) as tf.Scalar;
        moe.set(i, out.stats);
      } else x = tf.add(x, ffn(h, this.ffnWeights(`layers.${i}.ffn`))) as tf.Tensor2D;
    }
    if (options.cache) options.cache.length = offset + T;
    const hidden = tf.reshape(this.norm("ln_f", x), [B, T, c.d_model]) as tf.Tensor3D;
    return { hidden, aux, moe };
  }

  private moeWeights(i: number): MoeWeights {
    const prefix = `layers.${i}.moe`;
    return {
      router: this.p(`${prefix}.router.weight`) as tf.Tensor2D,
      experts: Array.from({ length: this.config.moe.num_experts }, (_, e) => this.ffnWeights(`${prefix}.experts.${e}`)),
      shared: this.config.moe.shared_expert ? this.ffnWeights(`${prefix}.shared`) : undefined,
    };
  }

  /** Causal self-attention of block i on normed x [B·T, d] → [B·T, d]. */
  private attention(i: number, x: tf.Tensor2D, B: number, T: number, offset: number, cache?: KVCache, keyBias?: tf.Tensor4D, rope?: Rotation): tf.Tensor2D {
    const c = this.config;
    const H = c.n_heads;
    const dh = c.d_model / H;
    const p = `layers.${i}.attn`;
    // three matMuls, not one fused qkv: splitting a [BT, 3d] result costs more than the fusion saves on wasm
    const heads = (name: string) => {
      const y = linear(x, this.p(`${p}.${name}.weight`) as tf.Tensor2D, this.p(`${p}.${name}.bias`) as tf.Tensor1D); // [BT, d]
      // one token a row (decoding): [B, 1, H, dh] and [B, H, 1, dh] lie the same in memory
      if (T === 1) return tf.reshape(y, [B, H, 1, dh]) as tf.Tensor4D;
      return tf.transpose(tf.reshape(y, [B, T, H, dh]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, dh]
    };
    let [q, kNew] = [heads("q"), heads("k")];
    const vNew = heads("v");
    // rotary: rotate q and the new keys at their own positions; cached keys were rotated when made
    if (rope) [q, kNew] = [rotate(q, rope), rotate(kNew, rope)];
    const [k, v] = cache ? cache.append(i, kNew, vNew) : [kNew, vNew];
    const Tk = offset + T;
    // an in-place cache has spare rows: read only the first Tk (the same products, bit for bit)
    const spare = cache?.inPlace ?? false;
    // scale q ([B, H, T, dh]) rather than the scores ([B, H, T, Tk]): fewer elements, same product
    const qs = tf.mul(q, 1 / Math.sqrt(dh)) as tf.Tensor4D;
    let scores = spare ? prefixMatMul(qs, k, Tk, true) : tf.matMul(qs, k, false, true); // [B, H, T, Tk]
    // one new token sees every key: its mask row is all zeros
    if (T > 1) scores = tf.add(scores, this.causalMask(T, offset));
    if (keyBias) scores = tf.add(scores, keyBias);
    const probs = tf.softmax(scores) as tf.Tensor4D;
    const out = spare ? prefixMatMul(probs, v, Tk, false) : tf.matMul(probs, v); // [B, H, T, dh]
    const merged = tf.reshape(T === 1 ? out : tf.transpose(out, [0, 2, 1, 3]), [B * T, c.d_model]) as tf.Tensor2D;
    return linear(merged, this.p(`${p}.proj.weight`) as tf.Tensor2D, this.p(`${p}.proj.bias`) as tf.Tensor1D);
  }

  /** Additive mask [T, offset+T]: query t may see keys up to offset+t. Cached, owned by the model. */
  private causalMask(T: number, offset: number): tf.Tensor2D {
    const key = `${T}:${offset}`;
    let mask = this.maskCache.get(key);
    if (!mask) {
      const Tk = offset + T;
      const data = new Float32Array(T * Tk);
      for (let t = 0; t < T; t++) for (let j = offset + t + 1; j < Tk; j++) data[t * Tk + j] = -1e9;
      mask = tf.keep(tf.tensor2d(data, [T, Tk]));
      this.maskCache.set(key, mask);
    }
    return mask;
  }

  /** Vocabulary scores for hidden rows h [N, d] → [N, V], through the tied embedding. */
  logits(h: tf.Tensor2D): tf.Tensor2D {
    // transposing the small [V, d] table beats a transposed matMul on wasm by ~10x, forward and backward
    return matmulPlain(h, tf.transpose(this.p("tok_emb.weight")) as tf.Tensor2D);
  }

  /** DeepSeek-V3 aux-free bias update from one step's routing counts (no-op unless enabled). */
  updateRouterBias(stats: Map<number, MoeStats>): void {
    if (!this.config.moe.aux_free_bias) return;
    for (const [layer, s] of stats) {
      const bias = this.selectionBias.get(layer);
      if (bias) updateSelectionBias(bias, s.counts, this.config.moe.bias_update_rate);
    }
  }

  /** The trainable variables, in `parameterSpecs` order. */
  variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const m of this.maskCache.values()) m.dispose();
    this.maskCache.clear();
  }
}

/** Position ids [B·T] for left-padded rows: row b's first real token is position 0. */
function paddedPositions(padding: number[], T: number, offset: number): tf.Tensor1D {
  const ids = new Int32Array(padding.length * T);
  padding.forEach((pad, b) => {
    for (let t = 0; t < T; t++) ids[b * T + t] = Math.max(0, offset + t - pad);
  });
  return tf.tensor1d(ids, "int32");
}

/** Additive key mask [B, 1, 1, Tk]: −1e9 on each row's padding keys. */
function paddingBias(padding: number[], Tk: number): tf.Tensor4D {
  const data = new Float32Array(padding.length * Tk);
  padding.forEach((pad, b) => data.fill(-1e9, b * Tk, b * Tk + Math.min(pad, Tk)));
  return tf.tensor4d(data, [padding.length, 1, 1, Tk]);
}

let counter = 0;
/** Variable names must be unique across the tfjs engine; two models may coexist. */
function uid(): number {
  return ++counter;
}
