// BloomForCausalLM. ALiBi (bloom slopes, added after the 1/sqrt(head_dim) scaling, which is exactly the runtime's
// attention op), a LayerNorm on the embeddings before layer 0 (word_embeddings_layernorm), pre-norm LayerNorm
// blocks with biases, fused query_key_value interleaved per head ([heads, 3, head_dim]: reordered to
// [q | k | v] at build time), a 4*hidden MLP with BLOOM's own tanh gelu, tied head. No position limit of its own.
import { fail } from '../../errors.js';
import { tensor } from '../ir/weight-source.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { groupedQkv } from './qkv-layout.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int(hf.key('hidden_size', 'n_embed'), 64);
  const heads = hf.int(hf.key('n_head', 'num_attention_heads'), 8);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: hidden_size ${hidden} is not a multiple of n_head ${heads}`);
  if (hf.bool('apply_residual_connection_post_layernorm', false)) {
    fail('UNSUPPORTED', `unsupported apply_residual_connection_post_layernorm=true for ${hf.architecture}`, 'llmc supports BLOOM blocks whose residual is the block input');
  }
  const headDim = hidden / heads;
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'bloom'),
    vocab_size: hf.int('vocab_size', 250880),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int(hf.key('n_layer', 'num_hidden_layers'), 2),
    num_heads: heads,
    num_kv_heads: heads,
    head_dim: headDim,
    intermediate_size: 4 * hidden,                                            // BloomMLP: always 4 * hidden
    max_position_embeddings: null,
    norm_eps: hf.num('layer_norm_epsilon', 1e-5),
    attention_scale: 1 / Math.sqrt(headDim),
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: true,
    embedding_norm: true,
    position: 'alibi',
    alibi_style: 'bloom',
    qkv_bias: true,
    o_bias: true,
    activation: 'gelu_bloom',
    mlp_gated: false,
    mlp_bias: true,
    tie_word_embeddings: hf.bool('tie_word_embeddings', true),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const T = 'transformer.';
  // Per head (q_h, k_h, v_h) rows -> [q | k | v].
  const qkv = (name: string) => groupedQkv(tensor(name), cfg.num_heads, cfg.num_heads, cfg.head_dim);
  m.map('embed.weight', `${T}word_embeddings.weight`);                     // [vocab, hidden]
  m.linear('embed_norm', `${T}word_embeddings_layernorm`, true);
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${T}h.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.input_layernorm`, true);
    m.map(`${L}.qkv.weight`, qkv(`${H}.self_attention.query_key_value.weight`)); // [3*hidden, hidden]
    m.map(`${L}.qkv.bias`, qkv(`${H}.self_attention.query_key_value.bias`));
    m.linear(`${L}.o`, `${H}.self_attention.dense`, true);
    m.linear(`${L}.mlp_norm`, `${H}.post_attention_layernorm`, true);
    m.linear(`${L}.up`, `${H}.mlp.dense_h_to_4h`, true);                      // [4*hidden, hidden]
    m.linear(`${L}.down`, `${H}.mlp.dense_4h_to_h`, true);                    // [hidden, 4*hidden]
  }
  m.linear('final_norm', `${T}ln_f`, true);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by word_embeddings
  return m.finish();
}

export const bloom: ModelFamily = {
  name: 'bloom',
  architectures: ['BloomForCausalLM'],
  basePrefix: 'transformer.',
  normalize,
  weightMap,
};
