// FalconForCausalLM and the legacy RWForCausalLM (tiiuae's own code, same tensor names). One fused
// query_key_value projection whose row layout follows the variant, LayerNorms, an MLP dense_h_to_4h ->
// activation -> dense_4h_to_h, biases on every linear when `bias`. Three block shapes (HF FalconDecoderLayer):
//   falcon-7b style    new_decoder_architecture=false, parallel_attn: parallel, one norm (input_layernorm);
//                      multi_query: one kv head, rows [q (heads*head_dim) | k | v]
//   falcon-40b style   new_decoder_architecture=true: parallel; num_ln_in_parallel_attn 2 (default): ln_attn and
//                      ln_mlp, 1 (falcon-11b): input_layernorm; rows grouped per kv head (multi_query ignored)
//   falcon-rw style    parallel_attn=false: sequential pre-norm (input_layernorm, post_attention_layernorm);
//                      without multi_query rows are interleaved per head; usually alibi
// Positions: rotate_half rope (rope_theta, rope_scaling) or, with alibi, bloom's slopes added *before* the
// 1/sqrt(head_dim) scaling: (q.k + s*j) * scale = q.k * scale + (s * scale) * j, so the slopes are pre-scaled
// (ModelConfig.alibi_scaled).
//
// Legacy RW configs: model_type RefinedWebModel (7b: multi_query means one kv head) or RefinedWeb (40b: the new
// decoder architecture with n_head_kv kv heads), n_head / n_layer / n_head_kv / n_embed spellings.
import { fail } from '../../errors.js';
import { tensor } from '../ir/weight-source.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { groupedQkv } from './qkv-layout.js';
import { parseRopeScaling } from './rope-scaling.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

// Falcon's alibi computes slope * position in bfloat16 (HF build_alibi_tensor: slopes.bfloat16() * positions).
// That is exact, and so equal to the engine's f32 slope * position, only while the slopes are powers of two (at
// most 8 heads) and positions fit bfloat16's 8 significant bits (<= 256). Beyond that HF rounds each bias, which the
// attention op (score + slope * key_position) cannot reproduce.
const FALCON_ALIBI_MAX_HEADS = 8;
const FALCON_ALIBI_MAX_POSITIONS = 256;

function normalize(hf: HfConfig): ModelConfig {
  const modelType = hf.str('model_type', 'falcon');
  const hidden = hf.int(hf.key('hidden_size', 'n_embed'), 4544);
  const heads = hf.int(hf.key('num_attention_heads', 'n_head'), 71);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  const headDim = hidden / heads;
  const newArch = hf.bool('new_decoder_architecture', modelType === 'RefinedWeb');
  const parallel = hf.bool('parallel_attn', true);
  const multiQuery = hf.bool('multi_query', true);
  const alibi = hf.bool('alibi', false);
  const bias = hf.bool('bias', false);
  if (hf.bool('apply_residual_connection_post_layernorm', false)) {
    fail('UNSUPPORTED', `unsupported apply_residual_connection_post_layernorm=true for ${hf.architecture}`, 'llmc supports Falcon blocks whose residual is the block input');
  }
  if (newArch && !parallel) {
    fail('UNSUPPORTED', `unsupported parallel_attn=false with new_decoder_architecture=true for ${hf.architecture}`, 'the new decoder architecture is parallel');
  }

  let kvHeads = heads;                                                        // old architecture without multi_query
  if (newArch) kvHeads = hf.int(hf.key('num_kv_heads', 'n_head_kv'), heads);
  else if (multiQuery) kvHeads = 1;
  if (heads % kvHeads !== 0) fail('BAD_CHECKPOINT', `config.json: num_attention_heads ${heads} is not a multiple of num_kv_heads ${kvHeads}`);

  let norms: 1 | 2 = 1;
  if (newArch) {
    const n = hf.int('num_ln_in_parallel_attn', 2);
    if (n !== 1 && n !== 2) fail('UNSUPPORTED', `unsupported num_ln_in_parallel_attn=${n} for ${hf.architecture}`, 'llmc supports num_ln_in_parallel_attn 1, 2');
    norms = n;
  }

  const maxPositions = hf.int('max_position_embeddings', 2048);
  if (alibi && (heads > FALCON_ALIBI_MAX_HEADS || maxPositions > FALCON_ALIBI_MAX_POSITIONS)) {
    fail('UNSUPPORTED', `unsupported alibi=true with ${heads} heads and max_position_embeddings ${maxPositions} for ${hf.architecture}: ` +
      'HF rounds Falcon\'s alibi bias slope*position to bfloat16, which the attention op cannot reproduce here',
      `llmc builds Falcon alibi models with at most ${FALCON_ALIBI_MAX_HEADS} heads and ${FALCON_ALIBI_MAX_POSITIONS} positions, where that rounding is exact`);
  }

  return {
    architecture: hf.architecture,
    model_type: modelType,
    vocab_size: hf.int('vocab_size', 65024),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int(hf.key('num_hidden_layers', 'n_layer'), 32),
    num_heads: heads,
    num_kv_heads: kvHeads,
    head_dim: headDim,
    intermediate_size: hf.int('ffn_hidden_size', 4 * hidden),                // null: 4 * hidden
    max_position_embeddings: maxPositions,
    norm_eps: hf.num('layer_norm_epsilon', 1e-5),
    attention_scale: 1 / Math.sqrt(headDim),
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: true,
    ...(alibi
      ? { position: 'alibi' as const, alibi_style: 'bloom' as const, alibi_scaled: true }
      : { position: 'rope' as const, rotary_dim: headDim, rope_theta: hf.num('rope_theta', 10000), rope_scaling: parseRopeScaling(hf) }),
    qkv_bias: bias,
    o_bias: bias,
    activation: hfActivation(hf, 'activation', 'gelu'),
    mlp_gated: false,
    mlp_bias: bias,
    parallel_residual: newArch || parallel,
    parallel_norms: norms,
    tie_word_embeddings: hf.bool('tie_word_embeddings', true),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const T = 'transformer.';
  // Fused rows -> [q | k | v]: grouped per kv head (new architecture; per head when kv_heads = heads, old MHA),
  // or already [q | k | v] with one kv head (old multi_query, where grouping by 1 is the identity).
  const qkv = (name: string) => groupedQkv(tensor(name), cfg.num_heads, cfg.num_kv_heads, cfg.head_dim);
  m.map('embed.weight', `${T}word_embeddings.weight`);                     // [vocab, hidden]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${T}h.${i}`];
    if (!cfg.parallel_residual) {
      m.linear(`${L}.attn_norm`, `${H}.input_layernorm`, true);
      m.linear(`${L}.mlp_norm`, `${H}.post_attention_layernorm`, true);
    } else if (cfg.parallel_norms === 2) {
      m.linear(`${L}.attn_norm`, `${H}.ln_attn`, true);
      m.linear(`${L}.mlp_norm`, `${H}.ln_mlp`, true);
    } else {
      m.linear(`${L}.attn_norm`, `${H}.input_layernorm`, true);
    }
    m.map(`${L}.qkv.weight`, qkv(`${H}.self_attention.query_key_value.weight`)); // [(heads + 2*kv_heads)*head_dim, hidden]
    if (cfg.qkv_bias) m.map(`${L}.qkv.bias`, qkv(`${H}.self_attention.query_key_value.bias`));
    m.linear(`${L}.o`, `${H}.self_attention.dense`, cfg.o_bias);
    m.linear(`${L}.up`, `${H}.mlp.dense_h_to_4h`, cfg.mlp_bias);              // [ffn, hidden]
    m.linear(`${L}.down`, `${H}.mlp.dense_4h_to_h`, cfg.mlp_bias);            // [hidden, ffn]
  }
  m.linear('final_norm', `${T}ln_f`, true);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by word_embeddings
  m.unused(/\.maybe_rotary\.inv_freq$/);                                     // tiiuae's RW code's rotary buffer
  return m.finish();
}

export const falcon: ModelFamily = {
  name: 'falcon',
  architectures: ['FalconForCausalLM', 'RWForCausalLM'],
  basePrefix: 'transformer.',
  normalize,
  weightMap,
};
