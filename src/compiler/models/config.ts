// ModelConfig: one flat, normalised description of a decoder-only transformer, covering every family llmc builds.
// A family file turns its HF config.json into this (models/<family>.ts normalize()); the shared layer builders
// (src/compiler/layers/) read only this. It is written into the engine manifest as `model`, so field names are
// snake_case and values plain JSON.
//
// Each field notes which HF families set it to something other than the usual value.
import type { ActivationKind, RopeStyle } from '../ir/ops.generated.js';

export type NormKind = 'rms' | 'layer';
export type PositionKind = 'rope' | 'alibi' | 'learned' | 'none';
export type TorchDType = 'float32' | 'float16' | 'bfloat16';

export type RopeScaling =
  | { type: 'linear'; factor: number }                         // inv_freq / factor
  | { type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

export interface ModelConfig {
  // ---- identity
  architecture: string;              // HF architectures[0], e.g. "LlamaForCausalLM"
  model_type: string;                // HF model_type, e.g. "llama"
  torch_dtype: TorchDType;           // dtype the checkpoint stores (config.json torch_dtype; float32 if absent)

  // ---- sizes
  vocab_size: number;
  hidden_size: number;
  num_layers: number;
  num_heads: number;
  num_kv_heads: number;              // = num_heads (MHA), 1 (MQA: falcon multi_query, gemma, gpt_bigcode), else GQA
  head_dim: number;                  // usually hidden_size / num_heads; gemma sets it explicitly
  intermediate_size: number;         // MLP width (bloom, mpt: 4 * hidden_size)
  max_position_embeddings: number | null; // null when the model has no limit of its own (alibi: bloom)

  // ---- norms
  norm_kind: NormKind;               // rms: llama family, gemma; layer: the rest
  norm_eps: number;
  norm_weight_offset: number;        // 1 for gemma (weights stored as offsets from 1), else 0
  norm_bias: boolean;                // layer norms carry a bias (false for mpt)

  // ---- embeddings
  embedding_dim: number;             // width of the token embedding table and of the LM head's input: hidden_size,
                                     // except opt-350m style (word_embed_proj_dim): then proj_in maps it to hidden
                                     // after the lookup and proj_out maps hidden back before the LM head
  embedding_scale: number;           // gemma: sqrt(hidden_size) (see layers/embedding.ts), else 1
  embedding_norm: boolean;           // bloom: word_embeddings_layernorm before layer 0

  // ---- positions
  position: PositionKind;
  rope_style: RopeStyle;             // neox (rotate_half): llama, gpt_neox, phi, ...; gptj: interleaved pairs
  rotary_dim: number;                // rotated dims per head (partial rotary: gptj, gpt_neox, phi); 0 without rope
  rope_theta: number;
  rope_scaling: RopeScaling | null;
  alibi_style: 'bloom' | 'mpt';      // slope formula (mpt uses alibi_bias_max and ceil to a power of 2)
  alibi_bias_max: number;            // mpt's alibi_bias_max (8 = the standard slopes)
  alibi_scaled: boolean;             // falcon: bias added before the 1/sqrt(head_dim) scaling, so slopes get scaled
  learned_position_offset: number;   // opt: 2 (row t + 2 holds position t), else 0

  // ---- attention
  attention_scale: number;           // score scale, 1/sqrt(head_dim) in every family so far
  sliding_window: number;            // 0 = none; mistral: keys j with t - window < j <= t
  qkv_bias: boolean;                 // q, k, v projections (llama attention_bias, qwen2, phi, starcoder2, ...)
  o_bias: boolean;                   // output projection (llama attention_bias, phi, starcoder2; not qwen2)

  // ---- mlp
  activation: ActivationKind;
  mlp_gated: boolean;                // down(act(gate(x)) * up(x)): llama family, gemma; else down(act(up(x)))
  mlp_bias: boolean;                 // biases on the MLP projections

  // ---- block
  norm_position: 'pre' | 'post';     // pre: x + f(norm(x)) (every family but one); post: norm(x + f(x)) (opt with
                                     // do_layer_norm_before=false, e.g. opt-350m)
  parallel_residual: boolean;        // x + attn(n1(x)) + mlp(n2(x)): gptj, phi, falcon parallel_attn, gpt_neox
  parallel_norms: 1 | 2;             // parallel blocks only: one shared norm (gptj, phi, falcon-7b) or two (neox, falcon-40b)

  // ---- output
  final_norm: boolean;               // a norm after the last layer (every family here)
  tie_word_embeddings: boolean;      // the LM head reuses the embedding matrix (logits = h . E^T)
  lm_head_bias: boolean;             // gptj, phi
}

/** Fields every family starts from (the llama layout); a family overrides what differs. */
export function baseConfig(): Omit<ModelConfig, 'architecture' | 'model_type' | 'vocab_size' | 'hidden_size' | 'num_layers' |
  'num_heads' | 'num_kv_heads' | 'head_dim' | 'intermediate_size' | 'max_position_embeddings' | 'norm_eps' | 'attention_scale' |
  'embedding_dim'> {
  return {
    torch_dtype: 'float32',
    norm_kind: 'rms',
    norm_weight_offset: 0,
    norm_bias: false,
    embedding_scale: 1,
    embedding_norm: false,
    position: 'rope',
    rope_style: 'neox',
    rotary_dim: 0,
    rope_theta: 10000,
    rope_scaling: null,
    alibi_style: 'bloom',
    alibi_bias_max: 8,
    alibi_scaled: false,
    learned_position_offset: 0,
    sliding_window: 0,
    qkv_bias: false,
    o_bias: false,
    activation: 'silu',
    mlp_gated: true,
    mlp_bias: false,
    norm_position: 'pre',
    parallel_residual: false,
    parallel_norms: 1,
    final_norm: true,
    tie_word_embeddings: true,
    lm_head_bias: false,
  };
}
