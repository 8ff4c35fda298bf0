// OPTForCausalLM. LayerNorm blocks with biases (enable_bias), learned positions with HF's offset of 2 (position t
// reads row t + 2 of embed_positions), relu MLP (fc1/fc2), tied head.
//   do_layer_norm_before true (most sizes): pre-norm, with a final LayerNorm (unless _remove_final_layer_norm)
//   do_layer_norm_before false (opt-350m):  post-norm (norm after each residual add), no final LayerNorm
//   word_embed_proj_dim != hidden_size (opt-350m): embeddings and LM head are word_embed_proj_dim wide;
//     project_in / project_out (linears without bias) map to and from hidden_size
import { fail } from '../../errors.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

const POSITION_OFFSET = 2;   // OPTLearnedPositionalEmbedding.offset

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int('hidden_size', 768);
  const heads = hf.int('num_attention_heads', 12);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  if (!hf.bool('layer_norm_elementwise_affine', true)) {
    fail('UNSUPPORTED', `unsupported layer_norm_elementwise_affine=false for ${hf.architecture}`, 'llmc supports OPT LayerNorms with weights');
  }
  const headDim = hidden / heads;
  const preNorm = hf.bool('do_layer_norm_before', true);
  const bias = hf.bool('enable_bias', true);
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'opt'),
    vocab_size: hf.int('vocab_size', 50272),
    hidden_size: hidden,
    embedding_dim: hf.int('word_embed_proj_dim', hidden),                   // null: hidden_size
    num_layers: hf.int('num_hidden_layers', 12),
    num_heads: heads,
    num_kv_heads: heads,
    head_dim: headDim,
    intermediate_size: hf.int('ffn_dim', 3072),
    max_position_embeddings: hf.int('max_position_embeddings', 2048),
    norm_eps: 1e-5,                                                           // OPT has no epsilon key
    attention_scale: 1 / Math.sqrt(headDim),                                  // HF scales q by head_dim^-0.5
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: true,
    norm_position: preNorm ? 'pre' : 'post',
    position: 'learned',
    learned_position_offset: POSITION_OFFSET,
    qkv_bias: bias,
    o_bias: bias,
    activation: hfActivation(hf, 'activation_function', 'relu'),
    mlp_gated: false,
    mlp_bias: bias,
    final_norm: preNorm && !hf.bool('_remove_final_layer_norm', false),
    tie_word_embeddings: hf.bool('tie_word_embeddings', true),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const D = 'model.decoder.';
  m.map('embed.weight', `${D}embed_tokens.weight`);                        // [vocab, word_embed_proj_dim]
  m.map('pos_embed.weight', `${D}embed_positions.weight`);                 // [max_positions + 2, hidden]
  if (cfg.embedding_dim !== cfg.hidden_size) {
    m.map('proj_in.weight', `${D}project_in.weight`);                      // [hidden, word_embed_proj_dim]
    m.map('proj_out.weight', `${D}project_out.weight`);                    // [word_embed_proj_dim, hidden]
  }
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${D}layers.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.self_attn_layer_norm`, true);
    for (const p of ['q', 'k', 'v']) m.linear(`${L}.${p}`, `${H}.self_attn.${p}_proj`, cfg.qkv_bias);
    m.linear(`${L}.o`, `${H}.self_attn.out_proj`, cfg.o_bias);
    m.linear(`${L}.mlp_norm`, `${H}.final_layer_norm`, true);                // the layer's MLP norm, despite the name
    m.linear(`${L}.up`, `${H}.fc1`, cfg.mlp_bias);                            // [ffn_dim, hidden]
    m.linear(`${L}.down`, `${H}.fc2`, cfg.mlp_bias);                          // [hidden, ffn_dim]
  }
  if (cfg.final_norm) m.linear('final_norm', `${D}final_layer_norm`, true);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by embed_tokens
  return m.finish();
}

export const opt: ModelFamily = {
  name: 'opt',
  architectures: ['OPTForCausalLM'],
  basePrefix: 'model.',
  normalize,
  weightMap,
};
