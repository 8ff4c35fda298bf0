// Model config normalisation (HF config.json -> ModelConfig) for every llama-family golden fixture, the family
// registry, and the errors for what llmc does not support.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HfConfig } from '../../src/compiler/models/hf-config.js';
import { familyFor, supportedArchitectures } from '../../src/compiler/models/index.js';
import { llama } from '../../src/compiler/models/llama.js';
import type { ModelConfig } from '../../src/compiler/models/config.js';
import { buildEngine } from '../../src/compiler/build.js';
import { configOf } from './graph-of.js';
import { cleanupTemps, copyFixture, editConfig, expectOneLine, fixtureModel, llmcError, tempDir } from './helpers.js';

afterAll(cleanupTemps);

const hfConfig = (name: string) => JSON.parse(readFileSync(join(fixtureModel(name), 'config.json'), 'utf8'));
const normalize = (raw: Record<string, unknown>, tensors: string[] = []) =>
  llama.normalize(new HfConfig(raw, (raw.architectures as string[])[0]), new Set(tensors));

const LLAMA_BASE: Partial<ModelConfig> = {
  vocab_size: 512, hidden_size: 64, num_layers: 2, num_heads: 4, num_kv_heads: 2, head_dim: 16, intermediate_size: 128,
  max_position_embeddings: 128, norm_kind: 'rms', norm_weight_offset: 0, embedding_scale: 1, embedding_norm: false,
  position: 'rope', rope_style: 'neox', rotary_dim: 16, activation: 'silu', mlp_gated: true, parallel_residual: false,
  final_norm: true, lm_head_bias: false, attention_scale: 0.25,
};

describe('llama family normalisation (golden fixtures)', () => {
  test.each([
    ['llama', { architecture: 'LlamaForCausalLM', norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null, qkv_bias: false, o_bias: false, mlp_bias: false, tie_word_embeddings: false, sliding_window: 0, torch_dtype: 'float32' }],
    ['llama_rope_linear', { rope_theta: 500000, rope_scaling: { type: 'linear', factor: 2 }, tie_word_embeddings: true }],
    ['llama3_rope', { rope_scaling: { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 }, qkv_bias: true, o_bias: true, mlp_bias: true, tie_word_embeddings: false }],
    ['llama_sharded', { tie_word_embeddings: false, rope_scaling: null }],
    ['llama_fp16', { torch_dtype: 'float16' }],
    ['llama_bf16', { torch_dtype: 'bfloat16' }],
    ['mistral', { architecture: 'MistralForCausalLM', model_type: 'mistral', sliding_window: 16, qkv_bias: false, o_bias: false, tie_word_embeddings: false }],
    ['qwen2', { architecture: 'Qwen2ForCausalLM', model_type: 'qwen2', norm_eps: 1e-6, rope_theta: 1e6, qkv_bias: true, o_bias: false, mlp_bias: false, sliding_window: 0, tie_word_embeddings: true }],
  ] as [string, Partial<ModelConfig>][])('%s', (name, expected) => {
    const cfg = configOf(fixtureModel(name));
    expect(cfg).toMatchObject({ ...LLAMA_BASE, ...expected });
    expect(JSON.parse(JSON.stringify(cfg))).toEqual(cfg);   // plain JSON: it goes into the manifest as is
  });

  test('registry: every llama-family architecture resolves to the llama family', () => {
    for (const a of ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM']) expect(familyFor({ architectures: [a] }).family).toBe(llama);
  });

  test('defaults: num_key_value_heads = heads, head_dim = hidden/heads, rope_theta 10000, rms_norm_eps 1e-6', () => {
    const raw = hfConfig('llama');
    for (const k of ['num_key_value_heads', 'rope_theta', 'rms_norm_eps', 'max_position_embeddings', 'attention_bias', 'mlp_bias', 'hidden_act']) delete raw[k];
    const cfg = normalize(raw);
    expect(cfg).toMatchObject({ num_kv_heads: 4, head_dim: 16, rope_theta: 10000, norm_eps: 1e-6, max_position_embeddings: 2048, qkv_bias: false, mlp_bias: false });
    expect(normalize({ ...hfConfig('mistral'), head_dim: 32 })).toMatchObject({ head_dim: 32, rotary_dim: 32, attention_scale: 1 / Math.sqrt(32) });
  });

  test('tie_word_embeddings: absent means true, unless the checkpoint stores its own lm_head', () => {
    const raw = hfConfig('llama');
    delete raw.tie_word_embeddings;
    expect(normalize(raw).tie_word_embeddings).toBe(true);
    expect(normalize(raw, ['lm_head.weight']).tie_word_embeddings).toBe(false);
  });

  test('mistral sliding_window: null = none, absent = the class default 4096', () => {
    expect(normalize({ ...hfConfig('mistral'), sliding_window: null }).sliding_window).toBe(0);
    const raw = hfConfig('mistral');
    delete raw.sliding_window;
    expect(normalize(raw).sliding_window).toBe(4096);
  });

  test('qwen2: sliding_window is ignored with use_sliding_window=false; true is UNSUPPORTED', async () => {
    expect(normalize({ ...hfConfig('qwen2'), sliding_window: 8 }).sliding_window).toBe(0);
    expectOneLine(await llmcError(() => normalize({ ...hfConfig('qwen2'), use_sliding_window: true })), 'UNSUPPORTED', /unsupported use_sliding_window=true for Qwen2ForCausalLM/);
  });

  test('rope_scaling: `type` and `rope_type` keys both work; default means none', () => {
    expect(normalize({ ...hfConfig('llama'), rope_scaling: { type: 'linear', factor: 4 } }).rope_scaling).toEqual({ type: 'linear', factor: 4 });
    expect(normalize({ ...hfConfig('llama'), rope_scaling: { rope_type: 'linear', factor: 4 } }).rope_scaling).toEqual({ type: 'linear', factor: 4 });
    expect(normalize({ ...hfConfig('llama'), rope_scaling: { rope_type: 'default' } }).rope_scaling).toBeNull();
  });

  test.each([
    [{ rope_scaling: { type: 'dynamic', factor: 2 } }, 'UNSUPPORTED', /^unsupported rope_scaling type dynamic; llmc supports rope_scaling types linear, llama3$/],
    [{ rope_scaling: { rope_type: 'yarn', factor: 2 } }, 'UNSUPPORTED', /^unsupported rope_scaling type yarn/],
    [{ rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'BAD_CHECKPOINT', /rope_scaling\.low_freq_factor must be a positive number for rope_scaling type llama3/],
    [{ rope_scaling: { factor: 2 } }, 'BAD_CHECKPOINT', /rope_scaling has no rope_type/],
    [{ hidden_act: 'gelu' }, 'UNSUPPORTED', /^unsupported hidden_act=gelu for LlamaForCausalLM; llmc supports hidden_act silu$/],
    [{ num_key_value_heads: 3 }, 'BAD_CHECKPOINT', /num_attention_heads 4 is not a multiple of num_key_value_heads 3/],
    [{ hidden_size: 'big' }, 'BAD_CHECKPOINT', /config\.json: hidden_size must be a positive integer, got "big"/],
    [{ num_hidden_layers: undefined }, 'BAD_CHECKPOINT', /config\.json has no num_hidden_layers/],
    [{ torch_dtype: 'int8' }, 'UNSUPPORTED', /unsupported torch_dtype=int8/],
  ] as const)('config error %#: %j', async (edit, code, message) => {
    const raw = { ...hfConfig('llama'), ...edit };
    expectOneLine(await llmcError(() => normalize(raw)), code, message);
  });

  test('unknown architecture: UNSUPPORTED listing the supported ones (through buildEngine)', async () => {
    const dir = copyFixture('llama');
    editConfig(dir, (c) => { c.architectures = ['MambaForCausalLM']; });
    const e = await llmcError(() => buildEngine({ modelDir: dir, outDir: join(tempDir(), 'e') }));
    expectOneLine(e, 'UNSUPPORTED', /^unsupported architecture MambaForCausalLM; llmc supports (\w+, )*LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM(, \w+)*$/);
    expect(e.message.endsWith(`llmc supports ${supportedArchitectures().join(', ')}`)).toBe(true);
    editConfig(dir, (c) => { delete c.architectures; });
    expectOneLine(await llmcError(() => buildEngine({ modelDir: dir, outDir: join(tempDir(), 'e') })), 'BAD_CHECKPOINT', /config\.json has no architectures list/);
  });

  test('unsupported rope_scaling through buildEngine', async () => {
    const dir = copyFixture('llama');
    editConfig(dir, (c) => { c.rope_scaling = { rope_type: 'longrope', factor: 4 }; });
    expectOneLine(await llmcError(() => buildEngine({ modelDir: dir, outDir: join(tempDir(), 'e') })), 'UNSUPPORTED', /unsupported rope_scaling type longrope/);
  });
});
