// GPTNeoXForCausalLM (pythia, gpt-neox-20b, ...). LayerNorm blocks, rotate_half rotary on the first
// int(head_dim * rotary_pct) dims of each head (base rotary_emb_base), fused query_key_value interleaved per head
// ([heads, 3, head_dim]: reordered to [q | k | v] at build time), plain MLP with bias, untied embed_out head.
//   use_parallel_residual true:  x + attn(input_layernorm(x)) + mlp(post_attention_layernorm(x))
//   use_parallel_residual false: sequential pre-norm with the same two norms
import { fail } from '../../errors.js';
import { tensor } from '../ir/weight-source.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { groupedQkv } from './qkv-layout.js';
import { parseRopeScaling } from './rope-scaling.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int('hidden_size', 6144);
  const heads = hf.int('num_attention_heads', 64);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  const headDim = hidden / heads;
  const rotaryPct = hf.num('rotary_pct', 0.25);
  if (rotaryPct > 1) fail('BAD_CHECKPOINT', `config.json: rotary_pct must be at most 1, got ${rotaryPct}`);
  const parallel = hf.bool('use_parallel_residual', true);
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'gpt_neox'),
    vocab_size: hf.int('vocab_size', 50432),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int('num_hidden_layers', 44),
    num_heads: heads,
    num_kv_heads: heads,
    head_dim: headDim,
    intermediate_size: hf.int('intermediate_size', 24576),
    max_position_embeddings: hf.int('max_position_embeddings', 2048),
    norm_eps: hf.num('layer_norm_eps', 1e-5),
    attention_scale: 1 / Math.sqrt(headDim),
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: true,
    rotary_dim: Math.floor(headDim * rotaryPct),                             // HF: int(head_size * rotary_pct)
    rope_theta: hf.num(hf.key('rotary_emb_base', 'rope_theta'), 10000),
    rope_scaling: parseRopeScaling(hf),
    qkv_bias: hf.bool('attention_bias', true),
    o_bias: hf.bool('attention_bias', true),
    activation: hfActivation(hf, 'hidden_act', 'gelu'),
    mlp_gated: false,
    mlp_bias: true,
    parallel_residual: parallel,
    parallel_norms: 2,
    tie_word_embeddings: hf.bool('tie_word_embeddings', false),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const G = 'gpt_neox.';
  // Per head (q_h, k_h, v_h) rows -> [q | k | v].
  const qkv = (name: string) => groupedQkv(tensor(name), cfg.num_heads, cfg.num_heads, cfg.head_dim);
  m.map('embed.weight', `${G}embed_in.weight`);                            // [vocab, hidden]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${G}layers.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.input_layernorm`, true);
    m.map(`${L}.qkv.weight`, qkv(`${H}.attention.query_key_value.weight`)); // [3*hidden, hidden]
    if (cfg.qkv_bias) m.map(`${L}.qkv.bias`, qkv(`${H}.attention.query_key_value.bias`));
    m.linear(`${L}.o`, `${H}.attention.dense`, cfg.o_bias);
    m.linear(`${L}.mlp_norm`, `${H}.post_attention_layernorm`, true);
    m.linear(`${L}.up`, `${H}.mlp.dense_h_to_4h`, true);                      // [inter, hidden]
    m.linear(`${L}.down`, `${H}.mlp.dense_4h_to_h`, true);                    // [hidden, inter]
  }
  m.linear('final_norm', `${G}final_layer_norm`, true);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'embed_out.weight');
  else m.unused(/^embed_out\.weight$/);                                      // tied: HF replaces it by embed_in
  return m.finish();
}

export const gptNeox: ModelFamily = {
  name: 'gpt_neox',
  architectures: ['GPTNeoXForCausalLM'],
  basePrefix: 'gpt_neox.',
  headPrefixes: ['embed_out.'],
  normalize,
  weightMap,
};
