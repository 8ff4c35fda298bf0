// Real Hub checkpoints differ from save_pretrained output; each family must build the very same engine from:
//   - a base-model checkpoint: tensor names without the base-model prefix (`h.0.attn.c_attn.weight`), plus the
//     non-weight buffers older transformers saved (causal masks, sometimes BOOL; rotary inv_freq caches)
//   - a config.json that leaves out every key whose value is the HF class default
//   - (falcon) the legacy RWForCausalLM configs of tiiuae's own code
// "The same engine" = identical rank0.engine bytes (plan + weights) and the same ModelConfig in the manifest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildEngine } from '../../../src/compiler/build.js';
import { familyFor } from '../../../src/compiler/models/index.js';
import { buffer, writeVariant, type StTensor, type Variant } from '../../helpers/checkpoint-variants.js';
import { cleanupTemps, fixtureModel, tempDir } from '../helpers.js';

afterAll(cleanupTemps);

interface Built { engine: Buffer; model: unknown }

async function build(modelDir: string): Promise<Built> {
  const outDir = join(tempDir('llmc-family-'), 'engine');
  const r = await buildEngine({ modelDir, outDir, dtype: 'float32' });
  return { engine: readFileSync(join(outDir, 'rank0.engine')), model: r.manifest.model };
}

const reference = new Map<string, Promise<Built>>();
const original = (fixture: string) => {
  if (!reference.has(fixture)) reference.set(fixture, build(fixtureModel(fixture)));
  return reference.get(fixture)!;
};

async function expectSameEngine(fixture: string, variant: Variant): Promise<Built> {
  const dir = writeVariant(fixtureModel(fixture), join(tempDir('llmc-variant-'), fixture), variant);
  const [a, b] = await Promise.all([original(fixture), build(dir)]);
  expect(b.engine.equals(a.engine)).toBe(true);
  return b;
}

const configOfFixture = (fixture: string) => JSON.parse(readFileSync(join(fixtureModel(fixture), 'config.json'), 'utf8'));

// Buffers each family's older checkpoints carry, named as in a base-model checkpoint (no prefix).
const BOOL_MASK = buffer([1, 1, 8, 8], 'BOOL');
const BUFFERS: Record<string, Record<string, StTensor>> = {
  gpt2: { 'h.0.attn.bias': buffer([1, 1, 8, 8]), 'h.0.attn.masked_bias': buffer([]), 'h.1.attn.bias': buffer([1, 1, 8, 8]) },
  gpt_bigcode: { 'h.0.attn.bias': BOOL_MASK, 'h.1.attn.bias': BOOL_MASK },
  gptj: { 'h.0.attn.bias': BOOL_MASK, 'h.0.attn.masked_bias': buffer([]) },
  gpt_neox: {
    'layers.0.attention.bias': BOOL_MASK, 'layers.0.attention.masked_bias': buffer([]),
    'layers.0.attention.rotary_emb.inv_freq': buffer([2]),
  },
  llama: { 'layers.0.self_attn.rotary_emb.inv_freq': buffer([8]) },
  phi: { 'layers.1.self_attn.rotary_emb.inv_freq': buffer([4]) },
  gemma: { 'layers.0.self_attn.rotary_emb.inv_freq': buffer([16]) },
  starcoder2: { 'layers.0.self_attn.rotary_emb.inv_freq': buffer([8]) },
  falcon_mqa: { 'h.0.self_attention.rotary_emb.inv_freq': buffer([8]) },
  falcon_new_arch: { 'h.1.self_attention.rotary_emb.inv_freq': buffer([8]) },
  falcon_alibi: {}, mpt: {}, bloom: {}, opt: {},
};

describe('base-model checkpoints (no prefix) with ignored buffers build the same engine', () => {
  test.each(Object.keys(BUFFERS))('%s', async (fixture) => {
    const { family } = familyFor(configOfFixture(fixture));
    const heads = family.headPrefixes ?? ['lm_head.'];
    const strip = (n: string) => (heads.some((h) => n.startsWith(h)) ? n : n.slice(family.basePrefix.length));
    const built = await expectSameEngine(fixture, { rename: strip, add: BUFFERS[fixture] });
    expect(built.model).toEqual((await original(fixture)).model);
  });

  test('buffers are accepted with the prefix too (a save_pretrained checkpoint from an older transformers)', async () => {
    await expectSameEngine('gpt2', { add: { 'transformer.h.0.attn.bias': BOOL_MASK, 'transformer.h.1.attn.masked_bias': buffer([]) } });
  });
});

// Keys whose fixture value equals the HF class default (HF's from_pretrained then uses the same value).
const DEFAULT_KEYS: Record<string, string[]> = {
  gpt2: ['activation_function', 'layer_norm_epsilon', 'scale_attn_weights', 'scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn'],
  gpt_bigcode: ['activation_function', 'layer_norm_epsilon', 'multi_query', 'scale_attn_weights'],
  gptj: ['activation_function', 'layer_norm_epsilon', 'tie_word_embeddings'],
  gpt_neox: ['hidden_act', 'layer_norm_eps', 'rotary_pct', 'rotary_emb_base', 'use_parallel_residual', 'attention_bias', 'tie_word_embeddings', 'rope_scaling'],
  opt: ['activation_function', 'do_layer_norm_before', 'enable_bias', '_remove_final_layer_norm', 'layer_norm_elementwise_affine', 'word_embed_proj_dim'],
  bloom: ['layer_norm_epsilon', 'apply_residual_connection_post_layernorm'],
  mpt: ['attn_config', 'layer_norm_epsilon', 'no_bias', 'norm_type', 'expansion_ratio', 'logit_scale', 'learned_pos_emb'],
  phi: ['hidden_act', 'layer_norm_eps', 'partial_rotary_factor', 'rope_theta', 'qk_layernorm', 'tie_word_embeddings', 'rope_scaling', 'num_key_value_heads'],
  gemma: ['hidden_act', 'hidden_activation', 'rms_norm_eps', 'rope_theta', 'attention_bias'],
  starcoder2: ['hidden_act', 'norm_epsilon', 'rope_theta', 'use_bias', 'sliding_window'],
  falcon_mqa: ['activation', 'alibi', 'bias', 'multi_query', 'new_decoder_architecture', 'parallel_attn', 'num_ln_in_parallel_attn', 'rope_theta', 'rope_scaling', 'layer_norm_epsilon', 'num_kv_heads'],
  falcon_new_arch: ['activation', 'alibi', 'bias', 'multi_query', 'parallel_attn', 'num_ln_in_parallel_attn', 'rope_theta', 'layer_norm_epsilon'],
  falcon_alibi: ['activation', 'layer_norm_epsilon', 'num_kv_heads', 'num_ln_in_parallel_attn'],
};

describe('configs that leave class defaults out build the same engine', () => {
  test.each(Object.keys(DEFAULT_KEYS))('%s', async (fixture) => {
    const built = await expectSameEngine(fixture, { config: (c) => { for (const k of DEFAULT_KEYS[fixture]) delete c[k]; } });
    expect(built.model).toEqual((await original(fixture)).model);
  });
});

describe('legacy RWForCausalLM configs (tiiuae code) build the same engine as FalconForCausalLM', () => {
  const legacy = (c: Record<string, unknown>, modelType: string) => {
    c.architectures = ['RWForCausalLM'];
    c.model_type = modelType;
    c.n_head = c.num_attention_heads;
    c.n_layer = c.num_hidden_layers;
    for (const k of ['num_attention_heads', 'num_hidden_layers', 'num_kv_heads', 'new_decoder_architecture', 'num_ln_in_parallel_attn',
      'rope_theta', 'rope_scaling', 'activation']) delete c[k];
  };

  test('falcon-7b style: RefinedWebModel, multi_query = one kv head', async () => {
    const built = await expectSameEngine('falcon_mqa', { config: (c) => legacy(c, 'RefinedWebModel') });
    expect(built.model).toMatchObject({ architecture: 'RWForCausalLM', num_kv_heads: 1, parallel_residual: true, parallel_norms: 1 });
  });

  test('falcon-40b style: RefinedWeb = the new decoder architecture, n_head_kv kv heads', async () => {
    const built = await expectSameEngine('falcon_new_arch', { config: (c) => { c.n_head_kv = c.num_kv_heads; legacy(c, 'RefinedWeb'); } });
    expect(built.model).toMatchObject({ architecture: 'RWForCausalLM', num_kv_heads: 2, parallel_residual: true, parallel_norms: 2 });
  });
});
