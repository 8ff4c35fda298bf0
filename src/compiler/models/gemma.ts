// GemmaForCausalLM. The llama block (pre-norm RMSNorm, rotate_half rope, GQA/MQA, q/k/v/o and gate/up/down
// projections under the same names) with Gemma's differences:
//   RMSNorm computes x/rms(x) * (1 + w): stored weights are offsets from 1 (rms_norm weight_offset 1)
//   embeddings are multiplied by sqrt(hidden_size); HF first rounds the constant to the activation dtype, and
//     the engine's activations are float32, so the constant is fp32(sqrt(hidden))
//   head_dim comes from config.json (class default 256) and need not be hidden / heads
//   GeGLU MLP: the activation is hidden_activation (absent/null: gelu_pytorch_tanh); HF ignores hidden_act,
//     which older configs set to "gelu" although the models were trained with the tanh approximation
//   tied head
import { fail } from '../../errors.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { parseRopeScaling } from './rope-scaling.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int('hidden_size', 3072);
  const heads = hf.int('num_attention_heads', 16);
  const kvHeads = hf.int('num_key_value_heads', 16);
  if (heads % kvHeads !== 0) fail('BAD_CHECKPOINT', `config.json: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const headDim = hf.int('head_dim', 256);
  const bias = hf.bool('attention_bias', false);
  // GemmaRotaryEmbedding reads only the base: a rope_scaling here would be ignored by HF and is refused.
  if (parseRopeScaling(hf) !== null) fail('UNSUPPORTED', `unsupported rope_scaling=${JSON.stringify(hf.raw.rope_scaling)} for ${hf.architecture}`, 'llmc supports Gemma without rope_scaling');
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'gemma'),
    vocab_size: hf.int('vocab_size', 256000),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int('num_hidden_layers', 28),
    num_heads: heads,
    num_kv_heads: kvHeads,
    head_dim: headDim,
    intermediate_size: hf.int('intermediate_size', 24576),
    max_position_embeddings: hf.int('max_position_embeddings', 8192),
    norm_eps: hf.num('rms_norm_eps', 1e-6),
    attention_scale: 1 / Math.sqrt(headDim),
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_weight_offset: 1,
    embedding_scale: Math.fround(Math.sqrt(hidden)),
    rotary_dim: headDim,
    rope_theta: hf.num('rope_theta', 10000),
    qkv_bias: bias,
    o_bias: bias,
    activation: hfActivation(hf, 'hidden_activation', 'gelu_pytorch_tanh'),
    mlp_gated: true,
    tie_word_embeddings: hf.bool('tie_word_embeddings', true),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const M = 'model.';
  m.map('embed.weight', `${M}embed_tokens.weight`);                        // [vocab, hidden]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${M}layers.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.input_layernorm`, false);
    for (const p of ['q', 'k', 'v']) m.linear(`${L}.${p}`, `${H}.self_attn.${p}_proj`, cfg.qkv_bias); // q [heads*head_dim, hidden]
    m.linear(`${L}.o`, `${H}.self_attn.o_proj`, cfg.o_bias);                  // [hidden, heads*head_dim]
    m.linear(`${L}.mlp_norm`, `${H}.post_attention_layernorm`, false);
    for (const p of ['gate', 'up', 'down']) m.linear(`${L}.${p}`, `${H}.mlp.${p}_proj`, false);
  }
  m.linear('final_norm', `${M}norm`, false);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by embed_tokens
  return m.finish();
}

export const gemma: ModelFamily = {
  name: 'gemma',
  architectures: ['GemmaForCausalLM'],
  basePrefix: 'model.',
  normalize,
  weightMap,
};
