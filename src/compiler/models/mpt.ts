// MptForCausalLM (HF's port of MosaicML MPT). ALiBi with mpt slopes from alibi_bias_max (HF adds
// slope * (j - (kv_len - 1)), equal to slope * j after the softmax, which is shift invariant), no biases anywhere
// (its LayerNorms have none either), fused Wqkv = [q | k | v] blocks, a 4*d_model MLP with exact gelu, tied head.
// Attention settings live in the nested attn_config, written as a diff against its own defaults
// ({"model_type": ""} means all of them); HF's port ignores several MosaicML options, so llmc refuses a value
// that the original model would compute differently from HF's port (and from llmc).
import { fail } from '../../errors.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import { HfConfig } from './hf-config.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function unsupported(hf: HfConfig, field: string, value: unknown, hint: string): never {
  return fail('UNSUPPORTED', `unsupported ${field}=${JSON.stringify(value)} for ${hf.architecture}`, hint);
}

/** attn_config with MptAttentionConfig's defaults; returns the score scale (softmax_scale) and alibi_bias_max. */
function attnConfig(hf: HfConfig, headDim: number): { scale: number; alibiBiasMax: number } {
  const a = new HfConfig(hf.object('attn_config') ?? {}, hf.architecture);
  const type = a.str('attn_type', 'multihead_attention');
  if (type !== 'multihead_attention') unsupported(hf, 'attn_config.attn_type', type, 'llmc supports attn_type multihead_attention');
  if (a.bool('qk_ln', false)) unsupported(hf, 'attn_config.qk_ln', true, 'llmc supports MPT without q/k LayerNorms');
  if (a.has('clip_qkv')) unsupported(hf, 'attn_config.clip_qkv', a.raw.clip_qkv, 'llmc supports MPT without qkv clipping (clip_qkv null)');
  if (!a.bool('alibi', true)) unsupported(hf, 'attn_config.alibi', false, 'llmc supports MPT with ALiBi (HF\'s port has no learned positions)');
  if (a.bool('prefix_lm', false)) unsupported(hf, 'attn_config.prefix_lm', true, 'llmc supports causal MPT models');
  if (a.bool('rope', false)) unsupported(hf, 'attn_config.rope', true, 'llmc supports MPT with ALiBi');
  return { scale: a.num('softmax_scale', 1 / Math.sqrt(headDim)), alibiBiasMax: a.num('alibi_bias_max', 8) };
}

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int(hf.key('d_model', 'hidden_size'), 2048);
  const heads = hf.int(hf.key('n_heads', 'num_attention_heads'), 16);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: d_model ${hidden} is not a multiple of n_heads ${heads}`);
  const headDim = hidden / heads;
  const { scale, alibiBiasMax } = attnConfig(hf, headDim);
  const normType = hf.str('norm_type', 'low_precision_layernorm');
  if (normType !== 'low_precision_layernorm' && normType !== 'layernorm') {
    unsupported(hf, 'norm_type', normType, 'llmc supports norm_type low_precision_layernorm, layernorm');
  }
  if (!hf.bool('no_bias', true)) unsupported(hf, 'no_bias', false, 'llmc supports MPT without biases (HF\'s port drops them)');
  if (hf.num('expansion_ratio', 4) !== 4) unsupported(hf, 'expansion_ratio', hf.raw.expansion_ratio, 'llmc supports expansion_ratio 4 (HF\'s port fixes the MLP at 4 * d_model)');
  if (hf.has('logit_scale')) unsupported(hf, 'logit_scale', hf.raw.logit_scale, 'llmc supports MPT without logit scaling (logit_scale null)');
  // learned_pos_emb is ignored, as in HF: its MptModel always uses ALiBi and has no position table.
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'mpt'),
    vocab_size: hf.int('vocab_size', 50368),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int(hf.key('n_layers', 'num_hidden_layers'), 24),
    num_heads: heads,
    num_kv_heads: heads,
    head_dim: headDim,
    intermediate_size: 4 * hidden,
    max_position_embeddings: hf.int('max_seq_len', 2048),                    // HF's alibi table ends there
    norm_eps: hf.num('layer_norm_epsilon', 1e-5),
    attention_scale: scale,
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: false,
    position: 'alibi',
    alibi_style: 'mpt',
    alibi_bias_max: alibiBiasMax,
    activation: 'gelu_erf',
    mlp_gated: false,
    tie_word_embeddings: hf.bool('tie_word_embeddings', true),
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const T = 'transformer.';
  m.map('embed.weight', `${T}wte.weight`);                                 // [vocab, d_model]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${T}blocks.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.norm_1`, false);
    m.linear(`${L}.qkv`, `${H}.attn.Wqkv`, false);                            // [3*d_model, d_model]: q | k | v
    m.linear(`${L}.o`, `${H}.attn.out_proj`, false);
    m.linear(`${L}.mlp_norm`, `${H}.norm_2`, false);
    m.linear(`${L}.up`, `${H}.ffn.up_proj`, false);                           // [4*d_model, d_model]
    m.linear(`${L}.down`, `${H}.ffn.down_proj`, false);                       // [d_model, 4*d_model]
  }
  m.linear('final_norm', `${T}norm_f`, false);
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by wte
  return m.finish();
}

export const mpt: ModelFamily = {
  name: 'mpt',
  architectures: ['MPTForCausalLM', 'MptForCausalLM'],
  basePrefix: 'transformer.',
  normalize,
  weightMap,
};
