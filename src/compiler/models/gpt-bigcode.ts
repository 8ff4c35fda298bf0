// GPTBigCodeForCausalLM (santacoder, starcoder 1). gpt2's block (pre-norm LayerNorm, biases everywhere, learned
// positions, plain MLP, tied head) but with ordinary nn.Linear weights ([out, in], no transposes) and, with
// multi_query, one kv head: c_attn rows are [q (hidden) | k (head_dim) | v (head_dim)]. Without multi_query the
// rows are interleaved per head ([heads, 3, head_dim]). The fp32-softmax flags (attention_softmax_in_fp32,
// scale_attention_softmax_in_fp32) only change low-precision rounding: the engine's softmax is f32 anyway.
import { fail } from '../../errors.js';
import { tensor } from '../ir/weight-source.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { groupedQkv } from './qkv-layout.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int(hf.key('n_embd', 'hidden_size'), 768);
  const heads = hf.int(hf.key('n_head', 'num_attention_heads'), 12);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: n_embd ${hidden} is not a multiple of n_head ${heads}`);
  if (hf.bool('add_cross_attention', false)) fail('UNSUPPORTED', `unsupported add_cross_attention=true for ${hf.architecture}`, 'llmc builds decoder-only models');
  const headDim = hidden / heads;
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'gpt_bigcode'),
    vocab_size: hf.int('vocab_size', 50257),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int(hf.key('n_layer', 'num_hidden_layers'), 12),
    num_heads: heads,
    num_kv_heads: hf.bool('multi_query', true) ? 1 : heads,
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
    activation: hfActivation(hf, 'activation_function', 'gelu_pytorch_tanh'),
    mlp_gated: false,
    mlp_bias: true,
    tie_word_embeddings: hf.bool('tie_word_embeddings', true),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const T = 'transformer.';
  // multi_query: [q | k | v] blocks already; else per head (q_h, k_h, v_h), reordered to [q | k | v].
  const qkv = (name: string) => cfg.num_kv_heads === 1 ? tensor(name) : groupedQkv(tensor(name), cfg.num_heads, cfg.num_heads, cfg.head_dim);
  m.map('embed.weight', `${T}wte.weight`);                                 // [vocab, hidden]
  m.map('pos_embed.weight', `${T}wpe.weight`);                             // [n_positions, hidden]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${T}h.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.ln_1`, true);
    m.map(`${L}.qkv.weight`, qkv(`${H}.attn.c_attn.weight`));               // [hidden + 2*kv_heads*head_dim, hidden]
    m.map(`${L}.qkv.bias`, qkv(`${H}.attn.c_attn.bias`));
    m.linear(`${L}.o`, `${H}.attn.c_proj`, true);
    m.linear(`${L}.mlp_norm`, `${H}.ln_2`, true);
    m.linear(`${L}.up`, `${H}.mlp.c_fc`, true);                               // [inner, hidden]
    m.linear(`${L}.down`, `${H}.mlp.c_proj`, true);                           // [hidden, inner]
  }
  m.linear('final_norm', `${T}ln_f`, true);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by wte
  return m.finish();
}

export const gptBigcode: ModelFamily = {
  name: 'gpt_bigcode',
  architectures: ['GPTBigCodeForCausalLM'],
  basePrefix: 'transformer.',
  normalize,
  weightMap,
};
