// Starcoder2ForCausalLM. Pre-norm blocks like llama's but with LayerNorm (weight and bias, norm_epsilon), bias on
// every linear when use_bias (q, k, v, o, c_fc, c_proj), a plain MLP c_fc -> gelu tanh -> c_proj, rotate_half
// rope, GQA, tied head. sliding_window is not applied: HF's eager attention ignores it for starcoder2 (only its
// flash-attention path windows), and llmc reproduces the eager reference.
import { fail } from '../../errors.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { parseRopeScaling } from './rope-scaling.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int('hidden_size', 3072);
  const heads = hf.int('num_attention_heads', 24);
  const kvHeads = hf.int('num_key_value_heads', 2);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  if (heads % kvHeads !== 0) fail('BAD_CHECKPOINT', `config.json: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  // Starcoder2RotaryEmbedding reads only the base: a rope_scaling here would be ignored by HF and is refused.
  if (parseRopeScaling(hf) !== null) fail('UNSUPPORTED', `unsupported rope_scaling=${JSON.stringify(hf.raw.rope_scaling)} for ${hf.architecture}`, 'llmc supports Starcoder2 without rope_scaling');
  const headDim = hidden / heads;
  const bias = hf.bool('use_bias', true);
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'starcoder2'),
    vocab_size: hf.int('vocab_size', 49152),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int('num_hidden_layers', 30),
    num_heads: heads,
    num_kv_heads: kvHeads,
    head_dim: headDim,
    intermediate_size: hf.int('intermediate_size', 12288),
    max_position_embeddings: hf.int('max_position_embeddings', 4096),
    norm_eps: hf.num('norm_epsilon', 1e-5),
    attention_scale: 1 / Math.sqrt(headDim),
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: true,
    rotary_dim: headDim,
    rope_theta: hf.num('rope_theta', 10000),
    qkv_bias: bias,
    o_bias: bias,
    activation: hfActivation(hf, 'hidden_act', 'gelu_pytorch_tanh'),
    mlp_gated: false,
    mlp_bias: bias,
    tie_word_embeddings: hf.bool('tie_word_embeddings', true),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const M = 'model.';
  m.map('embed.weight', `${M}embed_tokens.weight`);                        // [vocab, hidden]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${M}layers.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.input_layernorm`, true);
    for (const p of ['q', 'k', 'v']) m.linear(`${L}.${p}`, `${H}.self_attn.${p}_proj`, cfg.qkv_bias); // k, v [kv_heads*head_dim, hidden]
    m.linear(`${L}.o`, `${H}.self_attn.o_proj`, cfg.o_bias);
    m.linear(`${L}.mlp_norm`, `${H}.post_attention_layernorm`, true);
    m.linear(`${L}.up`, `${H}.mlp.c_fc`, cfg.mlp_bias);                       // [inter, hidden]
    m.linear(`${L}.down`, `${H}.mlp.c_proj`, cfg.mlp_bias);                   // [hidden, inter]
  }
  m.linear('final_norm', `${M}norm`, true);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by embed_tokens
  return m.finish();
}

export const starcoder2: ModelFamily = {
  name: 'starcoder2',
  architectures: ['Starcoder2ForCausalLM'],
  basePrefix: 'model.',
  normalize,
  weightMap,
};
