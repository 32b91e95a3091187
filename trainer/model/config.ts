/**
 * The model's configuration: one validated object, every field documented and defaulted here.
 * The defaults are the reference tiny config of ARCHITECTURE.md (d_model 128, 4 layers, 4 heads,
 * FFN 512 in layers 1 and 3, MoE 4 × 512 top-2 in layers 2 and 4, context 256, tied embeddings).
 */
import { z } from "zod";

export const MoeConfig = z.strictObject({
  num_experts: z.int().min(1).default(4).describe("Routed experts per MoE layer."),
  top_k: z.int().min(1).default(2).describe("Experts each token is routed to; gates renormalize over these."),
  d_ff: z.int().min(1).default(512).describe("Hidden width of each expert's FFN."),
  capacity_factor: z.number().gt(0).nullable().default(null)
    .describe("Training-time capacity per expert = ceil(top_k · tokens / num_experts · capacity_factor); overflow assignments are dropped and counted. null = no capacity limit. Never applied at inference."),
  balance_coef: z.number().min(0).default(0.01).describe("α of the Switch load-balancing loss α·N·Σ f_i·P_i."),
  z_loss_coef: z.number().min(0).default(1e-3).describe("Coefficient of the router z-loss mean(logsumexp(h)²)."),
  aux_free_bias: z.boolean().default(false)
    .describe("DeepSeek-V3 auxiliary-loss-free balancing: a per-expert bias added to the scores for top-k selection only."),
  bias_update_rate: z.number().min(0).default(0.001).describe("γ: the bias moves by ±γ after each optimizer step toward balance."),
  shared_expert: z.boolean().default(false).describe("Add one always-on shared expert (DeepSeekMoE) beside the routed ones."),
});
export type MoeConfig = z.infer<typeof MoeConfig>;

export const ModelConfig = z
  .strictObject({
    tokenizer: z.enum(["byte"]).default("byte").describe("Tokenizer kind; byte = UTF-8 bytes + <bos> <eos> <pad>."),
    vocab_size: z.int().min(2).default(259).describe("Embedding rows; must equal the tokenizer's vocabulary size."),
    d_model: z.int().min(1).default(128).describe("Residual stream width."),
    n_layers: z.int().min(1).default(4).describe("Transformer blocks."),
    n_heads: z.int().min(1).default(4).describe("Attention heads; d_model must be divisible by it."),
    d_ff: z.int().min(1).default(512).describe("Hidden width of the dense GELU FFN."),
    context_length: z.int().min(1).default(256).describe("The longest sequence the model can see (rows of the learned position table)."),
    positions: z.enum(["learned", "rope"]).default("learned")
      .describe("learned: absolute position embeddings added to the tokens (GPT-2); rope: rotary embeddings of q and k in every attention layer (relative positions; no position table)."),
    rope_theta: z.number().gt(0).default(10000).describe("Base of the rotary frequencies θ_i = rope_theta^(−2i/d_head)."),
    moe_layers: z.array(z.int().min(0)).default([1, 3]).describe("0-based indices of blocks whose FFN is a mixture of experts."),
    moe: MoeConfig.prefault({}),
    norm: z.enum(["layernorm", "rmsnorm"]).default("layernorm").describe("Pre-norm type."),
    norm_eps: z.number().gt(0).default(1e-5).describe("Added to the variance inside the norm."),
    init_std: z.number().gt(0).default(0.02).describe("Std of the normal initialization of weight matrices and embeddings."),
  })
  .refine((c) => c.d_model % c.n_heads === 0, { message: "d_model must be divisible by n_heads", path: ["n_heads"] })
  .refine((c) => c.positions !== "rope" || (c.d_model / c.n_heads) % 2 === 0, { message: "rope needs an even head width d_model / n_heads", path: ["positions"] })
  .refine((c) => c.moe_layers.every((l) => l < c.n_layers), { message: "moe_layers must be below n_layers", path: ["moe_layers"] })
  .refine((c) => c.moe.top_k <= c.moe.num_experts, { message: "moe.top_k must not exceed moe.num_experts", path: ["moe", "top_k"] });
export type ModelConfig = z.infer<typeof ModelConfig>;

/** Parses a partial config, filling defaults; throws a readable error naming the field. */
export function modelConfig(partial: unknown = {}): ModelConfig {
  const result = ModelConfig.safeParse(partial);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`model.${issue.path.join(".")}: ${issue.message}`);
  }
  return result.data;
}
