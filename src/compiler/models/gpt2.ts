// GPT2LMHeadModel. Pre-norm LayerNorm blocks with biases everywhere, learned absolute positions (wpe), plain MLP
// with gelu_new, tied LM head. Its linears are Conv1D modules, which store weights transposed ([in, out],
// y = x.W + b): every projection is transposed once here, at build time, into the [out, in] layout linear wants.
// c_attn's output columns are [q | k | v], each hidden wide, so after the transpose its rows are already the fused
// [q | k | v] the attention builder takes.
import { fail } from '../../errors.js';
import { tensor, transpose } from '../ir/weight-source.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int(hf.key('n_embd', 'hidden_size'), 768);
  const heads = hf.int(hf.key('n_head', 'num_attention_heads'), 12);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: n_embd ${hidden} is not a multiple of n_head ${heads}`);
  if (hf.bool('scale_attn_by_inverse_layer_idx', false)) {
    fail('UNSUPPORTED', `unsupported scale_attn_by_inverse_layer_idx=true for ${hf.architecture}`, 'llmc supports GPT-2 models with one attention scale for all layers');
  }
  if (hf.bool('add_cross_attention', false)) fail('UNSUPPORTED', `unsupported add_cross_attention=true for ${hf.architecture}`, 'llmc builds decoder-only models');
  const headDim = hidden / heads;
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'gpt2'),
    vocab_size: hf.int('vocab_size', 50257),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int(hf.key('n_layer', 'num_hidden_layers'), 12),
    num_heads: heads,
    num_kv_heads: heads,
    head_dim: headDim,
    intermediate_size: hf.int('n_inner', 4 * hidden),                        // n_inner null: 4 * n_embd
    max_position_embeddings: hf.int(hf.key('n_positions', 'max_position_embeddings'), 1024),
    norm_eps: hf.num('layer_norm_epsilon', 1e-5),
    attention_scale: hf.bool('scale_attn_weights', true) ? 1 / Math.sqrt(headDim) : 1,
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: true,
    position: 'learned',
    qkv_bias: true,
    o_bias: true,
    activation: hfActivation(hf, 'activation_function', 'gelu_new'),
    mlp_gated: false,
    mlp_bias: true,
    tie_word_embeddings: hf.bool('tie_word_embeddings', true),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const T = 'transformer.';
  m.map('embed.weight', `${T}wte.weight`);                                 // [vocab, hidden]
  m.map('pos_embed.weight', `${T}wpe.weight`);                             // [n_positions, hidden]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${T}h.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.ln_1`, true);
    m.map(`${L}.qkv.weight`, transpose(tensor(`${H}.attn.c_attn.weight`)));   // [hidden, 3*hidden] -> [3*hidden, hidden]
    m.map(`${L}.qkv.bias`, `${H}.attn.c_attn.bias`);                         // [3*hidden]: q | k | v
    m.map(`${L}.o.weight`, transpose(tensor(`${H}.attn.c_proj.weight`)));
    m.map(`${L}.o.bias`, `${H}.attn.c_proj.bias`);
    m.linear(`${L}.mlp_norm`, `${H}.ln_2`, true);
    m.map(`${L}.up.weight`, transpose(tensor(`${H}.mlp.c_fc.weight`)));     // [hidden, inner] -> [inner, hidden]
    m.map(`${L}.up.bias`, `${H}.mlp.c_fc.bias`);
    m.map(`${L}.down.weight`, transpose(tensor(`${H}.mlp.c_proj.weight`))); // [inner, hidden] -> [hidden, inner]
    m.map(`${L}.down.bias`, `${H}.mlp.c_proj.bias`);
  }
  m.linear('final_norm', `${T}ln_f`, true);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by wte
  return m.finish();
}

export const gpt2: ModelFamily = {
  name: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  basePrefix: 'transformer.',
  normalize,
  weightMap,
};
