// The weight map accounts for every checkpoint tensor: a missing or an unmapped tensor is an error naming it;
// a tensor whose shape disagrees with config.json too; declared-unused buffers are accepted.
import { join } from 'node:path';
import { buildEngine } from '../../src/compiler/build.js';
import { openCheckpoint } from '../../src/compiler/hf/checkpoint.js';
import { llama } from '../../src/compiler/models/llama.js';
import { resolveWeightMap } from '../../src/compiler/models/weight-map.js';
import { addTensor, cleanupTemps, copyFixture, dropTensor, editConfig, expectOneLine, fixtureModel, llmcError, readSt, tempDir, writeSt } from './helpers.js';
import { readPlan } from '../../src/compiler/engine/reader.js';
import { configOf } from './graph-of.js';
import { FORMAT_VERSION } from '../../src/compiler/engine/format.js';

afterAll(cleanupTemps);
const st = (dir: string) => join(dir, 'model.safetensors');
const build = (dir: string) => buildEngine({ modelDir: dir, outDir: join(tempDir(), 'engine') });

describe('weight map', () => {
  test.each(['llama', 'llama3_rope', 'llama_rope_linear', 'mistral', 'qwen2', 'llama_sharded'])('%s: every tensor is mapped, every target resolves', (name) => {
    const ckpt = openCheckpoint(fixtureModel(name));
    const cfg = configOf(fixtureModel(name));
    const table = resolveWeightMap(llama.weightMap(cfg, new Set(ckpt.tensors.keys())), ckpt.tensors, cfg.architecture);
    expect(table.targets().length).toBe(ckpt.tensors.size);
  });

  test('a missing tensor is BAD_CHECKPOINT naming it and its use', async () => {
    const dir = copyFixture('llama');
    dropTensor(st(dir), 'model.layers.1.mlp.up_proj.weight');
    expectOneLine(await llmcError(() => build(dir)), 'BAD_CHECKPOINT',
      /^tensor model\.layers\.1\.mlp\.up_proj\.weight is missing from the checkpoint; LlamaForCausalLM needs it for l1\.up\.weight; /);
  });

  test('an unmapped tensor is BAD_CHECKPOINT naming it', async () => {
    const dir = copyFixture('llama');
    addTensor(st(dir), 'model.layers.0.self_attn.q_proj.bias', 'F32', [64], Buffer.alloc(256));
    expectOneLine(await llmcError(() => build(dir)), 'BAD_CHECKPOINT',
      /^tensor model\.layers\.0\.self_attn\.q_proj\.bias in the checkpoint is not mapped by llmc's LlamaForCausalLM mapping; config\.json may not match the weights/);
  });

  test('config and weights disagreeing on biases: attention_bias=true without bias tensors', async () => {
    const dir = copyFixture('llama');
    editConfig(dir, (c) => { c.attention_bias = true; });
    expectOneLine(await llmcError(() => build(dir)), 'BAD_CHECKPOINT', /tensor model\.layers\.0\.self_attn\.q_proj\.bias is missing from the checkpoint \(and 7 more\)/);
  });

  test('a tensor whose shape disagrees with config.json', async () => {
    const dir = copyFixture('llama');
    editConfig(dir, (c) => { c.intermediate_size = 96; });
    expectOneLine(await llmcError(() => build(dir)), 'BAD_CHECKPOINT',
      /tensor model\.layers\.0\.mlp\.gate_proj\.weight has shape \[128,64\] but config\.json implies \[96,64\] for l0\.gate\.weight/);
  });

  test('declared-unused buffers (rotary_emb.inv_freq) are accepted', async () => {
    const dir = copyFixture('llama');
    addTensor(st(dir), 'model.layers.0.self_attn.rotary_emb.inv_freq', 'F32', [8], Buffer.alloc(32));
    const r = await build(dir);
    expect(r.manifest.format_version).toBe(FORMAT_VERSION);
  });

  test('a base-model checkpoint (no `model.` prefix) builds the same engine', async () => {
    const dir = copyFixture('llama');
    const f = readSt(st(dir));
    f.header = Object.fromEntries(Object.entries(f.header).map(([k, v]) => [k.replace(/^model\./, ''), v]));
    writeSt(st(dir), f);
    const a = readPlan((await build(fixtureModel('llama'))).engineDir);
    const b = readPlan((await build(dir)).engineDir);
    expect(b.plan.values).toEqual(a.plan.values);
  });
});
