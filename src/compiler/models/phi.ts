// PhiForCausalLM (phi-1, phi-1.5, phi-2 in HF's own format). Parallel block with one LayerNorm
// (x + attn(input_layernorm(x)) + mlp(input_layernorm(x))), rotate_half rotary on the first
// int(head_dim * partial_rotary_factor) dims of each head, biases on every linear including the LM head, a
// final LayerNorm (final_layernorm), plain MLP fc1/fc2 with gelu_new, untied head.
import { fail } from '../../errors.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { parseRopeScaling } from './rope-scaling.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int('hidden_size', 2048);
  const heads = hf.int('num_attention_heads', 32);
  const kvHeads = hf.int('num_key_value_heads', heads);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  if (heads % kvHeads !== 0) fail('BAD_CHECKPOINT', `config.json: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  if (hf.bool('qk_layernorm', false)) fail('UNSUPPORTED', `unsupported qk_layernorm=true for ${hf.architecture}`, 'llmc supports Phi without q/k LayerNorms');
  const factor = hf.num('partial_rotary_factor', 0.5);
  if (factor > 1) fail('BAD_CHECKPOINT', `config.json: partial_rotary_factor must be at most 1, got ${factor}`);
  const headDim = hidden / heads;
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'phi'),
    vocab_size: hf.int('vocab_size', 51200),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int('num_hidden_layers', 24),
    num_heads: heads,
    num_kv_heads: kvHeads,
    head_dim: headDim,
    intermediate_size: hf.int('intermediate_size', 8192),
    max_position_embeddings: hf.int('max_position_embeddings', 2048),
    norm_eps: hf.num('layer_norm_eps', 1e-5),
    attention_scale: 1 / Math.sqrt(headDim),
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: true,
    rotary_dim: Math.floor(headDim * factor),                                // HF: int(partial_rotary_factor * head_dim)
    rope_theta: hf.num('rope_theta', 10000),
    rope_scaling: parseRopeScaling(hf),
    qkv_bias: true,
    o_bias: true,
    activation: hfActivation(hf, 'hidden_act', 'gelu_new'),
    mlp_gated: false,
    mlp_bias: true,
    parallel_residual: true,
    parallel_norms: 1,
    tie_word_embeddings: hf.bool('tie_word_embeddings', false),
    lm_head_bias: true,
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const M = 'model.';
  m.map('embed.weight', `${M}embed_tokens.weight`);                        // [vocab, hidden]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${M}layers.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.input_layernorm`, true);
    for (const p of ['q', 'k', 'v']) m.linear(`${L}.${p}`, `${H}.self_attn.${p}_proj`, true);
    m.linear(`${L}.o`, `${H}.self_attn.dense`, true);
    m.linear(`${L}.up`, `${H}.mlp.fc1`, true);                                // [inter, hidden]
    m.linear(`${L}.down`, `${H}.mlp.fc2`, true);                              // [hidden, inter]
  }
  m.linear('final_norm', `${M}final_layernorm`, true);
  m.map('lm_head.bias', 'lm_head.bias');                                     // [vocab], tied or not
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by embed_tokens
  return m.finish();
}

export const phi: ModelFamily = {
  name: 'phi',
  architectures: ['PhiForCausalLM'],
  basePrefix: 'model.',
  normalize,
  weightMap,
};
