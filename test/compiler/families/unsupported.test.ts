// A config value llmc does not implement is a build error naming the field and the value (UNSUPPORTED, one line),
// never a silently different engine. Each case edits one fixture's config.json and builds it.
import { join } from 'node:path';
import { buildEngine } from '../../../src/compiler/build.js';
import { cleanupTemps, copyFixture, editConfig, expectOneLine, llmcError, tempDir } from '../helpers.js';

afterAll(cleanupTemps);

type Edit = (c: Record<string, any>) => void;
const set = (values: Record<string, unknown>): Edit => (c) => Object.assign(c, values);
const attn = (values: Record<string, unknown>): Edit => (c) => { c.attn_config = { ...c.attn_config, ...values }; };

const CASES: [string, string, Edit, RegExp][] = [
  // activations: every family reads its own key
  ['gpt2', 'quick_gelu activation', set({ activation_function: 'quick_gelu' }), /^unsupported activation_function=quick_gelu for GPT2LMHeadModel; llmc supports activation_function silu, /],
  ['gpt_bigcode', 'gelu_10 activation', set({ activation_function: 'gelu_10' }), /^unsupported activation_function=gelu_10 for GPTBigCodeForCausalLM/],
  ['gptj', 'gelu_fast activation', set({ activation_function: 'gelu_fast' }), /^unsupported activation_function=gelu_fast for GPTJForCausalLM/],
  ['gpt_neox', 'gelu_accurate activation', set({ hidden_act: 'gelu_accurate' }), /^unsupported hidden_act=gelu_accurate for GPTNeoXForCausalLM/],
  ['opt', 'tanh activation', set({ activation_function: 'tanh' }), /^unsupported activation_function=tanh for OPTForCausalLM/],
  ['phi', 'mish activation', set({ hidden_act: 'mish' }), /^unsupported hidden_act=mish for PhiForCausalLM/],
  ['gemma', 'quick_gelu hidden_activation', set({ hidden_activation: 'quick_gelu' }), /^unsupported hidden_activation=quick_gelu for GemmaForCausalLM/],
  ['starcoder2', 'quick_gelu activation', set({ hidden_act: 'quick_gelu' }), /^unsupported hidden_act=quick_gelu for Starcoder2ForCausalLM/],
  ['falcon_mqa', 'quick_gelu activation', set({ activation: 'quick_gelu' }), /^unsupported activation=quick_gelu for FalconForCausalLM/],
  // rope
  ['gpt_neox', 'dynamic rope scaling', set({ rope_scaling: { type: 'dynamic', factor: 2 } }), /^unsupported rope_scaling type dynamic/],
  ['phi', 'yarn rope scaling', set({ rope_scaling: { rope_type: 'yarn', factor: 2 } }), /^unsupported rope_scaling type yarn/],
  ['falcon_new_arch', 'dynamic rope scaling', set({ rope_scaling: { type: 'dynamic', factor: 2 } }), /^unsupported rope_scaling type dynamic/],
  ['gemma', 'rope scaling HF ignores', set({ rope_scaling: { type: 'linear', factor: 2 } }), /^unsupported rope_scaling=\{"type":"linear","factor":2\} for GemmaForCausalLM/],
  ['starcoder2', 'rope scaling HF ignores', set({ rope_scaling: { type: 'linear', factor: 2 } }), /^unsupported rope_scaling=.* for Starcoder2ForCausalLM/],
  ['gptj', 'rotary_dim null', set({ rotary_dim: null }), /^unsupported rotary_dim=null for GPTJForCausalLM/],
  ['gptj', 'rotary_dim wider than a head', set({ rotary_dim: 32 }), /^unsupported rotary_dim=32 for GPTJForCausalLM \(head size 16\)/],
  // mpt attn_config and the options HF's port ignores
  ['mpt', 'qk_ln', attn({ qk_ln: true }), /^unsupported attn_config\.qk_ln=true for MptForCausalLM/],
  ['mpt', 'clip_qkv', attn({ clip_qkv: 6 }), /^unsupported attn_config\.clip_qkv=6 for MptForCausalLM/],
  ['mpt', 'attn_type', attn({ attn_type: 'grouped_query_attention' }), /^unsupported attn_config\.attn_type="grouped_query_attention" for MptForCausalLM/],
  ['mpt', 'alibi off', attn({ alibi: false }), /^unsupported attn_config\.alibi=false for MptForCausalLM/],
  ['mpt', 'prefix_lm', attn({ prefix_lm: true }), /^unsupported attn_config\.prefix_lm=true/],
  ['mpt', 'rope', attn({ rope: true }), /^unsupported attn_config\.rope=true/],
  ['mpt', 'norm_type', set({ norm_type: 'rmsnorm' }), /^unsupported norm_type="rmsnorm" for MptForCausalLM/],
  ['mpt', 'no_bias false', set({ no_bias: false }), /^unsupported no_bias=false for MptForCausalLM/],
  ['mpt', 'expansion_ratio', set({ expansion_ratio: 8 }), /^unsupported expansion_ratio=8 for MptForCausalLM/],
  ['mpt', 'logit_scale', set({ logit_scale: 'inv_sqrt_d_model' }), /^unsupported logit_scale="inv_sqrt_d_model" for MptForCausalLM/],
  // block / attention variants
  ['gpt2', 'per-layer attention scale', set({ scale_attn_by_inverse_layer_idx: true }), /^unsupported scale_attn_by_inverse_layer_idx=true for GPT2LMHeadModel/],
  ['gpt2', 'cross attention', set({ add_cross_attention: true }), /^unsupported add_cross_attention=true for GPT2LMHeadModel/],
  ['bloom', 'post-layernorm residual', set({ apply_residual_connection_post_layernorm: true }), /^unsupported apply_residual_connection_post_layernorm=true for BloomForCausalLM/],
  ['phi', 'qk_layernorm', set({ qk_layernorm: true }), /^unsupported qk_layernorm=true for PhiForCausalLM/],
  ['opt', 'LayerNorms without weights', set({ layer_norm_elementwise_affine: false }), /^unsupported layer_norm_elementwise_affine=false for OPTForCausalLM/],
  ['falcon_new_arch', 'sequential new architecture', set({ parallel_attn: false }), /^unsupported parallel_attn=false with new_decoder_architecture=true for FalconForCausalLM/],
  ['falcon_new_arch', 'three parallel norms', set({ num_ln_in_parallel_attn: 3 }), /^unsupported num_ln_in_parallel_attn=3 for FalconForCausalLM/],
  ['falcon_alibi', 'post-layernorm residual', set({ apply_residual_connection_post_layernorm: true }), /^unsupported apply_residual_connection_post_layernorm=true for FalconForCausalLM/],
  // falcon alibi: HF rounds slope*position to bfloat16, exact only for <= 8 heads and <= 256 positions
  ['falcon_alibi', 'alibi beyond 256 positions', set({ max_position_embeddings: 2048 }),
    /^unsupported alibi=true with 4 heads and max_position_embeddings 2048 for FalconForCausalLM: HF rounds Falcon's alibi bias slope\*position to bfloat16/],
];

describe('unsupported config values are UNSUPPORTED naming the field', () => {
  test.each(CASES)('%s: %s', async (fixture, _what, edit, message) => {
    const dir = copyFixture(fixture);
    editConfig(dir, edit);
    const e = await llmcError(() => buildEngine({ modelDir: dir, outDir: join(tempDir(), 'engine') }));
    expectOneLine(e, 'UNSUPPORTED', message);
  });
});
