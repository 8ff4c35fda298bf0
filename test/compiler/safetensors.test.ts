// Checkpoint import: safetensors header validation, sharded index, config.json / generation ids, lazy reads.
import { readFileSync, truncateSync, writeFileSync, rmSync, statSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/compiler/hf/checkpoint.js';
import { readSafetensorsHeader, TensorReader } from '../../src/compiler/hf/safetensors.js';
import { buildEngine } from '../../src/compiler/build.js';
import { addTensor, cleanupTemps, copyFixture, editConfig, expectOneLine, fixtureModel, llmcError, readSt, tempDir, writeSt } from './helpers.js';

afterAll(cleanupTemps);

const st = (dir: string) => join(dir, 'model.safetensors');

describe('safetensors header', () => {
  test('the llama fixture reads: every tensor typed, placed and sized', () => {
    const h = readSafetensorsHeader(st(fixtureModel('llama')));
    expect(h.tensors.size).toBe(21);
    const q = h.tensors.get('model.layers.0.self_attn.q_proj.weight')!;
    expect(q).toMatchObject({ dtype: 'F32', shape: [64, 64], nbytes: 64 * 64 * 4 });
    expect(q.offset).toBeGreaterThanOrEqual(h.headerBytes.length);
  });

  test('a truncated file (data cut short) is BAD_CHECKPOINT naming the file', async () => {
    const dir = copyFixture('llama');
    truncateSync(st(dir), statSync(st(dir)).size - 100);
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /model\.safetensors is truncated or corrupt: tensor \S+ ends at byte \d+ of the data section, which has \d+ bytes/);
  });

  test('a file shorter than the 8-byte length', async () => {
    const dir = copyFixture('llama');
    writeFileSync(st(dir), Buffer.from([1, 2, 3]));
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /model\.safetensors is truncated \(3 bytes\)/);
  });

  test('a header length beyond the end of the file', async () => {
    const dir = copyFixture('llama');
    const b = readFileSync(st(dir));
    b.writeBigUInt64LE(BigInt(b.length), 0);
    writeFileSync(st(dir), b);
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /model\.safetensors is truncated: its header needs \d+ bytes but the file has \d+/);
  });

  test('a header length over 100 MB is refused before allocating it', async () => {
    const dir = copyFixture('llama');
    const b = readFileSync(st(dir));
    b.writeBigUInt64LE(2n ** 40n, 0);
    writeFileSync(st(dir), b);
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /model\.safetensors: header length 1099511627776 is over 100 MB/);
  });

  test('a header that is not JSON', async () => {
    const dir = copyFixture('llama');
    const b = readFileSync(st(dir));
    b.write('{{{', 8);
    writeFileSync(st(dir), b);
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /model\.safetensors: the header is not valid JSON/);
  });

  test('data_offsets outside the data section', async () => {
    const dir = copyFixture('llama');
    const f = readSt(st(dir));
    const e = f.header['model.norm.weight'];
    e.data_offsets = [f.data.length + 4096, f.data.length + 4096 + 256];
    writeSt(st(dir), f);
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /tensor model\.norm\.weight ends at byte \d+ of the data section/);
  });

  test('data_offsets that do not match shape x dtype', async () => {
    const dir = copyFixture('llama');
    const f = readSt(st(dir));
    f.header['model.norm.weight'].shape = [65];
    writeSt(st(dir), f);
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT',
      /model\.safetensors: tensor model\.norm\.weight: data_offsets \[\d+, \d+\) hold 256 bytes but shape \[65\] x F32 needs 260/);
  });

  test('overlapping tensors', async () => {
    const dir = copyFixture('llama');
    const f = readSt(st(dir));
    const a = f.header['model.layers.0.input_layernorm.weight'];
    const b = f.header['model.layers.1.input_layernorm.weight'];
    b.data_offsets = [a.data_offsets[0] + 128, a.data_offsets[0] + 128 + 256];
    writeSt(st(dir), f);
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /model\.safetensors: tensors \S+ \[\d+, \d+\) and \S+ \[\d+, \d+\) overlap/);
  });

  test('an unsupported dtype is UNSUPPORTED naming the tensor and dtype', async () => {
    const dir = copyFixture('llama');
    addTensor(st(dir), 'model.step_counter', 'I64', [2], Buffer.alloc(16));
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'UNSUPPORTED', /model\.safetensors: tensor model\.step_counter has dtype I64; llmc reads F32, F16 and BF16/);
    const dir2 = copyFixture('llama');
    addTensor(st(dir2), 'x', 'Q4_K', [2], Buffer.alloc(16));
    expectOneLine(await llmcError(() => openCheckpoint(dir2)), 'BAD_CHECKPOINT', /tensor x has unknown dtype "Q4_K"/);
  });

  test('TensorReader reads exactly the tensor bytes, lazily and by window', () => {
    const path = st(fixtureModel('llama'));
    const h = readSafetensorsHeader(path);
    const whole = readFileSync(path);
    const reader = new TensorReader();
    try {
      for (const t of h.tensors.values()) expect(reader.read(t).equals(whole.subarray(t.offset, t.offset + t.nbytes))).toBe(true);
      const t = h.tensors.get('lm_head.weight')!;
      expect(reader.read(t, 256, 512).equals(whole.subarray(t.offset + 256, t.offset + 768))).toBe(true);
      expect(() => reader.read(t, t.nbytes - 4, 8)).toThrow(/outside tensor/);
    } finally {
      reader.close();
    }
  });
});

describe('checkpoint directory', () => {
  test('no config.json is NOT_FOUND with the fix', async () => {
    const dir = tempDir();
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'NOT_FOUND',
      new RegExp(`^no config\\.json in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; point llmc build at a HuggingFace checkpoint directory$`));
    expectOneLine(await llmcError(() => buildEngine({ modelDir: dir, outDir: join(tempDir(), 'e') })), 'NOT_FOUND', /no config\.json in/);
  });

  test('a directory that does not exist', async () => {
    expectOneLine(await llmcError(() => openCheckpoint('/nonexistent/llmc/model')), 'NOT_FOUND', /\/nonexistent\/llmc\/model does not exist/);
  });

  test('config.json that is not JSON', async () => {
    const dir = copyFixture('llama');
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 64,');
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /config\.json in .* is not valid JSON/);
  });

  test('no safetensors file', async () => {
    const dir = copyFixture('llama');
    rmSync(st(dir));
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'NOT_FOUND', /no model\.safetensors or model\.safetensors\.index\.json in/);
    writeFileSync(join(dir, 'pytorch_model.bin'), '');
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'UNSUPPORTED', /PyTorch \.bin weights only; llmc reads safetensors; convert it/);
  });

  test('sharded: the index maps every tensor to its shard, and the union equals the single-file checkpoint', () => {
    const sharded = openCheckpoint(fixtureModel('llama_sharded'));
    const single = openCheckpoint(fixtureModel('llama'));
    expect(sharded.files).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect([...sharded.tensors.keys()].sort()).toEqual([...single.tensors.keys()].sort());
    for (const [name, t] of sharded.tensors) expect([t.dtype, t.shape]).toEqual([single.tensors.get(name)!.dtype, single.tensors.get(name)!.shape]);
  });

  test('sharded: a tensor listed in the index but missing from its shard', async () => {
    const dir = copyFixture('llama_sharded');
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    const shard = index.weight_map['model.norm.weight'];
    const f = readSt(join(dir, shard));
    delete f.header['model.norm.weight'];
    writeSt(join(dir, shard), f);
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT',
      new RegExp(`tensor model\\.norm\\.weight is listed in model\\.safetensors\\.index\\.json but missing from ${shard}`));
  });

  test('sharded: a shard file listed in the index is absent', async () => {
    const dir = copyFixture('llama_sharded');
    renameSync(join(dir, 'model-00002-of-00003.safetensors'), join(dir, 'elsewhere'));
    expectOneLine(await llmcError(() => openCheckpoint(dir)), 'BAD_CHECKPOINT', /model\.safetensors\.index\.json lists model-00002-of-00003\.safetensors, which is not in/);
  });

  test('generation ids: generation_config.json first, then config.json; eos may be a list', () => {
    expect(openCheckpoint(fixtureModel('llama')).generation).toEqual({ bos_token_id: 1, eos_token_ids: [2], pad_token_id: 0 });
    const dir = copyFixture('llama');
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 5, eos_token_id: [7, 8, 7] }));
    expect(openCheckpoint(dir).generation).toEqual({ bos_token_id: 5, eos_token_ids: [7, 8], pad_token_id: 0 });
    rmSync(join(dir, 'generation_config.json'));
    editConfig(dir, (c) => { c.eos_token_id = 3; delete c.pad_token_id; });
    expect(openCheckpoint(dir).generation).toEqual({ bos_token_id: 1, eos_token_ids: [3], pad_token_id: null });
  });

  test('the checkpoint hash covers config.json and the headers, and is stable', () => {
    const a = openCheckpoint(fixtureModel('llama')).sha256;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(openCheckpoint(fixtureModel('llama')).sha256).toBe(a);
    const dir = copyFixture('llama');
    expect(openCheckpoint(dir).sha256).toBe(a);
    editConfig(dir, (c) => { c.rms_norm_eps = 1e-6; });
    expect(openCheckpoint(dir).sha256).not.toBe(a);
  });
});
