// The engine writer's output, read back with engine/reader.ts: layout, plan, manifest, weight bytes (copied,
// fused, converted), the output directory rules, and the reader's errors.
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildEngine } from '../../src/compiler/build.js';
import { readManifest, readPlan, readWeightBytes } from '../../src/compiler/engine/reader.js';
import { exportOnnx } from '../../src/compiler/engine/onnx.js';
import { f32ToBf16, f32ToF16 } from '../../src/compiler/engine/convert.js';
import { DATA_ALIGN, ENGINE_FILE, FORMAT_VERSION, MAGIC } from '../../src/compiler/engine/format.js';
import { OPS, SCHEMA_HASH, type OpName } from '../../src/compiler/ir/ops.generated.js';
import { parseGraph } from '../../src/compiler/ir/parse.js';
import { verify } from '../../src/compiler/ir/verify.js';
import { openCheckpoint } from '../../src/compiler/hf/checkpoint.js';
import { TensorReader } from '../../src/compiler/hf/safetensors.js';
import type { BuildOptions } from '../../src/compiler/api.js';
import onnxProto from 'onnx-proto';
import { cleanupTemps, copyFixture, dropTensor, expectOneLine, fixtureModel, goldenDir, llmcError, tempDir } from './helpers.js';

afterAll(cleanupTemps);

async function build(fixture: string, extra: Partial<BuildOptions> = {}) {
  const lines: string[] = [];
  const outDir = extra.outDir ?? join(tempDir(), fixture);
  const report = await buildEngine({ modelDir: fixtureModel(fixture), outDir, log: (l) => lines.push(l), ...extra });
  return { report, lines, dir: outDir };
}

/** Raw bytes of a checkpoint tensor. */
function tensorBytes(fixture: string, name: string): Buffer {
  const ckpt = openCheckpoint(fixtureModel(fixture));
  const reader = new TensorReader();
  try {
    return reader.read(ckpt.tensors.get(name)!);
  } finally {
    reader.close();
  }
}

// The llama engine's node list (execution order), as reported in the compiler docs.
const LLAMA_NODES = [
  'embed',
  ...[0, 1].flatMap((i) => [
    // fuse_linear_rope: q and k are rotated in l<i>.qkv's epilogue (linear_rope), so there are no rope nodes.
    `l${i}.attn_norm`, `l${i}.qkv`, `l${i}.qkv.split`, `l${i}.attn`, `l${i}.attn_out`,
    // fuse_add_norm: each residual add is part of the norm after it (l0.attn_residual of l0.mlp_norm, l0.out of
    // l1.attn_norm, l1.out of final_norm), which takes the add's place.
    `l${i}.mlp_norm`, `l${i}.gate_up`, `l${i}.gate_up.split`, `l${i}.mlp_act`, `l${i}.mlp_out`,
  ]),
  'final_norm', 'logit_rows', 'logits',
];

describe('engine for the llama fixture', () => {
  let dir: string;
  let lines: string[];
  let irDir: string;
  beforeAll(async () => {
    irDir = join(tempDir(), 'ir');
    ({ dir, lines } = await build('llama', { dumpIrDir: irDir }));
  });

  test('rank0.engine layout: magic, version, 4096-aligned data, plan padded with spaces, 64-aligned weights', () => {
    const file = readFileSync(join(dir, ENGINE_FILE));
    expect(file.subarray(0, 8).equals(MAGIC)).toBe(true);
    expect(file.readUInt32LE(8)).toBe(FORMAT_VERSION);
    expect(file.readUInt32LE(12)).toBe(0);
    const { header, plan } = readPlan(dir);
    expect(header.dataOffset % DATA_ALIGN).toBe(0);
    expect(file.length).toBe(header.dataOffset + header.dataSize);
    expect(file.subarray(40 + header.planLength, header.dataOffset).every((b) => b === 0x20)).toBe(true);
    for (const v of plan.values) if (v.kind === 'weight') expect(v.offset! % 64).toBe(0);
  });

  test('plan: ids index values, op ids and attrs follow the schema, absent inputs are -1', () => {
    const { plan } = readPlan(dir);
    expect(plan).toMatchObject({
      format_version: FORMAT_VERSION, schema_hash: SCHEMA_HASH,
      model: { vocab_size: 512, hidden_size: 64, num_layers: 2, num_heads: 4, num_kv_heads: 2, head_dim: 16 },
      limits: { max_batch_size: 8, max_seq_len: 128, max_num_tokens: 128, max_logit_rows: 64 },  // max(8, 64) rows of logits
      kv_cache: { num_layers: 2, num_kv_heads: 2, head_dim: 16, dtype: 'f32', block_size: 16 },
    });
    plan.values.forEach((v, i) => expect(v.id).toBe(i));
    expect(plan.nodes.map((n) => n.name)).toEqual(LLAMA_NODES);
    for (const n of plan.nodes) {
      const spec = OPS[n.op as OpName];
      expect(n.op_id).toBe(spec.id);
      expect(n.inputs).toHaveLength(spec.inputs.length);
      expect(Object.keys(n.attrs)).toEqual(spec.attrs.map((a) => a.name));
      spec.inputs.forEach((s, k) => {
        if (n.inputs[k] === -1) expect(s.optional).toBe(true);
        else expect(plan.values[n.inputs[k]].kind).toBe(s.kind);
      });
    }
    const qkv = plan.nodes.find((n) => n.name === 'l0.qkv')!;   // rotates q's 4 heads and k's 2
    expect(qkv.op).toBe('linear_rope');
    expect(qkv.attrs).toEqual({ num_heads: 6, head_dim: 16, rotary_dim: 16, style: 'neox' });
    expect(plan.nodes.find((n) => n.name === 'l0.qkv.split')!.attrs).toEqual({ sizes: [64, 32, 32] });
    expect(plan.nodes.find((n) => n.name === 'l0.attn_out')!.inputs[2]).toBe(-1);
    const logits = plan.values[plan.outputs.logits];
    expect(logits).toMatchObject({ kind: 'activation', name: 'logits', rows: 'logit_rows', width: 512 });
    // Each activation inside its rows' arena; the logits arena holds the LM head's rows (hidden 64) and logits (512).
    for (const v of plan.values) {
      if (v.kind !== 'activation') continue;
      expect(v.arena_offset + v.width).toBeLessThanOrEqual(v.rows === 'tokens' ? plan.arena.floats_per_token : plan.arena.logit_floats_per_row);
    }
    expect(plan.arena.logit_floats_per_row).toBeGreaterThanOrEqual(512);
  });

  test('manifest: model config, build, memory plan, source, generation, tokenizer', () => {
    const m = readManifest(dir) as any;
    const { plan } = readPlan(dir);
    expect(m).toMatchObject({
      format_version: FORMAT_VERSION, schema_hash: SCHEMA_HASH,
      build: { dtype: 'float32', max_batch_size: 8, max_seq_len: 128, max_num_tokens: 128,
        passes: ['canonicalize', 'fuse_gated_activation', 'fuse_sibling_linears', 'fuse_add_norm', 'fuse_linear_activation', 'fuse_linear_rope', 'canonicalize', 'plan_memory'] },
      target: { backend: 'cpu' }, mapping: { world_size: 1, tp: 1, pp: 1 },
      source: { dir: fixtureModel('llama'), files: ['model.safetensors'], checkpoint_sha256: openCheckpoint(fixtureModel('llama')).sha256 },
      generation: { bos_token_id: 1, eos_token_ids: [2], pad_token_id: 0 },
      tokenizer: { present: false },
    });
    expect(m.model).toMatchObject({ architecture: 'LlamaForCausalLM', rope_theta: 10000, tie_word_embeddings: false });
    expect(m.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const weights = plan.values.filter((v) => v.kind === 'weight') as { name: string; nbytes: number }[];
    const total = weights.reduce((s, v) => s + v.nbytes, 0);
    const embed = weights.find((v) => v.name === 'embed.weight')!.nbytes;
    expect(m.memory_plan).toEqual({
      weights_bytes: total,
      decode_weight_bytes: total - embed,                      // untied: the embedding table is only gathered from
      arena_floats_per_token: plan.arena.floats_per_token,
      arena_logit_floats_per_row: plan.arena.logit_floats_per_row,
      max_logit_rows: 64,
      token_arena_bytes: 4 * plan.arena.floats_per_token * 128,
      logits_arena_bytes: 4 * plan.arena.logit_floats_per_row * 64,
      activation_bytes: 4 * (plan.arena.floats_per_token * 128 + plan.arena.logit_floats_per_row * 64),
      kv_cache_dtype: 'float32',
      kv_bytes_per_token: 2 * 2 * 2 * 16 * 4,                  // layers * (k, v) * kv_heads * head_dim * f32
      kv_cache_bytes: 8 * Math.ceil(128 / 16) * 16 * 512,
    });
    expect(readFileSync(join(dir, 'generation_config.json'))).toEqual(readFileSync(join(fixtureModel('llama'), 'generation_config.json')));
    expect(existsSync(join(dir, 'tokenizer.json'))).toBe(false);
  });

  test('weights: plain ones are the checkpoint bytes; fused ones are their concatenation; rope.inv_freq is HF\'s', () => {
    const ep = readPlan(dir);
    expect(readWeightBytes(dir, ep, 'l1.o.weight').equals(tensorBytes('llama', 'model.layers.1.self_attn.o_proj.weight'))).toBe(true);
    expect(readWeightBytes(dir, ep, 'lm_head.weight').equals(tensorBytes('llama', 'lm_head.weight'))).toBe(true);
    const qkv = Buffer.concat(['q', 'k', 'v'].map((p) => tensorBytes('llama', `model.layers.0.self_attn.${p}_proj.weight`)));
    expect(readWeightBytes(dir, ep, 'l0.qkv.weight').equals(qkv)).toBe(true);
    const gateUp = Buffer.concat(['gate', 'up'].map((p) => tensorBytes('llama', `model.layers.1.mlp.${p}_proj.weight`)));
    expect(readWeightBytes(dir, ep, 'l1.gate_up.weight').equals(gateUp)).toBe(true);
    const inv = readWeightBytes(dir, ep, 'rope.inv_freq');
    const golden = JSON.parse(readFileSync(join(goldenDir, 'llama', 'golden.json'), 'utf8')).debug.rope_inv_freq;
    expect(Array.from(new Float32Array(inv.buffer, inv.byteOffset, 8))).toEqual(golden);
  });

  test('the build log has the model, the limits and the memory plan', () => {
    expect(lines.join('\n')).toMatch(/llmc build: LlamaForCausalLM \(2 layers, hidden 64, 4 heads \/ 2 kv heads, vocab 512\)/);
    expect(lines.join('\n')).toMatch(/limits: max_batch_size 8, max_seq_len 128, max_num_tokens 128 \(default: max_seq_len/);
    expect(lines.filter((l) => l.startsWith('memory plan: '))).toHaveLength(3);
    expect(lines.join('\n')).toMatch(/memory plan: KV cache f32, 512 bytes\/token; 0\.50 MiB at 8 sequences x 128 tokens/);
    expect(lines.join('\n')).toMatch(/memory plan: activations [\d.]+ MiB: token arena \d+ floats\/token x 128 tokens = [\d.]+ MiB, logits arena \d+ floats\/row x 64 rows = [\d.]+ MiB/);
  });

  test('dumpIrDir holds the IR after every pass, each one valid', () => {
    const dumps = readdirSync(irDir).sort();
    expect(dumps).toEqual(['00-input.ir', '01-canonicalize.ir', '02-fuse_gated_activation.ir',
      '03-fuse_sibling_linears.ir', '04-fuse_add_norm.ir', '05-fuse_linear_activation.ir', '06-fuse_linear_rope.ir', '07-canonicalize.ir',
      '08-plan_memory.ir']);
    for (const f of dumps) verify(parseGraph(readFileSync(join(irDir, f), 'utf8')));
  });

  test('ONNX export: llmc-domain nodes named per layer, weights as external data in rank0.engine, small file', () => {
    const file = join(tempDir(), 'model.onnx');
    exportOnnx(dir, file);
    expect(statSync(file).size).toBeLessThan(20_000);
    const m = onnxProto.onnx.ModelProto.decode(readFileSync(file)) as any;
    const { header, plan } = readPlan(dir);
    expect(m.graph.node.map((n: any) => n.name)).toEqual(LLAMA_NODES);
    expect(new Set(m.graph.node.map((n: any) => n.domain))).toEqual(new Set(['llmc']));
    expect(m.opsetImport[0]).toMatchObject({ domain: 'llmc' });
    const attn = m.graph.node.find((n: any) => n.name === 'l1.attn');
    expect(attn.attribute.map((a: any) => a.name)).toEqual(['layer', 'num_heads', 'num_kv_heads', 'head_dim', 'scale', 'sliding_window']);
    const init = m.graph.initializer.find((t: any) => t.name === 'l0.qkv.weight');
    const ext = Object.fromEntries(init.externalData.map((e: any) => [e.key, e.value]));
    const v = plan.values.find((x) => x.name === 'l0.qkv.weight')! as { offset: number; nbytes: number };
    expect(ext.offset).toBe(String(header.dataOffset + v.offset));
    expect(ext.length).toBe(String(v.nbytes));
    expect(join(dirname(file), ext.location)).toBe(join(dir, ENGINE_FILE));
    expect(m.graph.output[0].name).toBe('logits');
  });
});

describe('dtype conversion at build time', () => {
  test('llama built as float16 / bfloat16 equals the llama_fp16 / llama_bf16 checkpoints (torch rounding) bit for bit', async () => {
    for (const [dtype, fixture] of [['float16', 'llama_fp16'], ['bfloat16', 'llama_bf16']] as const) {
      const { dir } = await build('llama', { dtype });
      const ep = readPlan(dir);
      for (const [target, source] of [['l0.o.weight', 'model.layers.0.self_attn.o_proj.weight'], ['embed.weight', 'model.embed_tokens.weight'],
        ['final_norm.weight', 'model.norm.weight']]) {
        expect(readWeightBytes(dir, ep, target).equals(tensorBytes(fixture, source))).toBe(true);
      }
      expect(ep.plan.values.find((v) => v.name === 'rope.inv_freq')).toMatchObject({ dtype: 'f32' });
      expect(ep.plan.values.find((v) => v.name === 'l0.qkv.weight')).toMatchObject({ dtype: dtype === 'float16' ? 'f16' : 'bf16' });
    }
  });

  test('converted values are the round-to-nearest-even of the f32 weights', async () => {
    const { dir } = await build('llama', { dtype: 'float16' });
    const src = tensorBytes('llama', 'model.layers.1.mlp.down_proj.weight');
    const f32 = new Float32Array(src.buffer, src.byteOffset, src.length / 4);
    const got = readWeightBytes(dir, readPlan(dir), 'l1.down.weight');
    const halves = new Uint16Array(got.buffer, got.byteOffset, got.length / 2);
    expect(Array.from(halves)).toEqual(Array.from(f32, f32ToF16));
    const { dir: dir2 } = await build('llama', { dtype: 'bfloat16' });
    const got2 = readWeightBytes(dir2, readPlan(dir2), 'l1.down.weight');
    expect(Array.from(new Uint16Array(got2.buffer, got2.byteOffset, got2.length / 2))).toEqual(Array.from(f32, f32ToBf16));
  });

  test('default dtype is the checkpoint\'s; widening to float32 is exact', async () => {
    const { dir, report } = await build('llama_bf16');
    expect((report.manifest.build as any).dtype).toBe('bfloat16');
    expect(readWeightBytes(dir, readPlan(dir), 'l0.o.weight').equals(tensorBytes('llama_bf16', 'model.layers.0.self_attn.o_proj.weight'))).toBe(true);
    const { dir: d32 } = await build('llama_bf16', { dtype: 'float32' });
    const wide = readWeightBytes(d32, readPlan(d32), 'l0.o.weight');
    const narrow = tensorBytes('llama_bf16', 'model.layers.0.self_attn.o_proj.weight');
    for (let i = 0; i < narrow.length / 2; i++) expect(wide.readUInt32LE(4 * i)).toBe((narrow.readUInt16LE(2 * i) << 16) >>> 0);
  });

  test('sharded and single-file checkpoints give the same engine data', async () => {
    const a = readPlan((await build('llama')).dir);
    const { dir: sd } = await build('llama_sharded');
    const b = readPlan(sd);
    expect(b.plan.values).toEqual(a.plan.values);
    const fa = readFileSync(join((await build('llama')).dir, ENGINE_FILE));
    const fb = readFileSync(join(sd, ENGINE_FILE));
    expect(fb.subarray(b.header.dataOffset).equals(fa.subarray(a.header.dataOffset))).toBe(true);
  });

  test('tied embeddings: one table, read whole by the LM head (counted in decode bytes)', async () => {
    const { dir, report } = await build('qwen2');
    const { plan } = readPlan(dir);
    expect(plan.values.some((v) => v.name === 'lm_head.weight')).toBe(false);
    const logits = plan.nodes.find((n) => n.name === 'logits')!;
    expect(plan.values[logits.inputs[1]].name).toBe('embed.weight');
    const mp = report.manifest.memory_plan as any;
    expect(mp.decode_weight_bytes).toBe(mp.weights_bytes);
  });
});

describe('output directory', () => {
  test('a non-empty directory that is not an engine is refused without --force', async () => {
    const out = tempDir();
    writeFileSync(join(out, 'notes.txt'), 'mine');
    expectOneLine(await llmcError(() => build('llama', { outDir: out })), 'EXISTS', new RegExp(`^${out.replace(/[/.]/g, '\\$&')} exists and is not empty; pass --force to overwrite$`));
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
    const { lines } = await build('llama', { outDir: out, force: true });
    expect(lines.join('\n')).toMatch(/overwriting .* \(--force\)/);
    expect(existsSync(join(out, 'notes.txt'))).toBe(false);
    expect(existsSync(join(out, ENGINE_FILE))).toBe(true);
  });

  test('an existing engine is replaced, and says so', async () => {
    const out = join(tempDir(), 'engine');
    await build('llama', { outDir: out });
    const { lines } = await build('qwen2', { outDir: out });
    expect(lines.join('\n')).toMatch(/replacing the existing engine in/);
    expect((readManifest(out) as any).model.architecture).toBe('Qwen2ForCausalLM');
  });

  test('a failed build leaves the previous engine intact and no temp directory behind', async () => {
    const parent = tempDir();
    const out = join(parent, 'engine');
    await build('llama', { outDir: out });
    const before = readFileSync(join(out, ENGINE_FILE));
    const bad = copyFixture('llama');
    dropTensor(join(bad, 'model.safetensors'), 'model.norm.weight');
    await llmcError(() => buildEngine({ modelDir: bad, outDir: out }));
    expect(readFileSync(join(out, ENGINE_FILE)).equals(before)).toBe(true);
    expect(readdirSync(parent)).toEqual(['engine']);
  });

  test('an output inside missing parent directories is created', async () => {
    const out = join(tempDir(), 'a', 'b', 'engine');
    await build('llama', { outDir: out });
    expect(existsSync(join(out, ENGINE_FILE))).toBe(true);
  });

  test('tokenizer files are copied and recorded', async () => {
    const model = copyFixture('llama');
    writeFileSync(join(model, 'tokenizer.json'), '{"model": {}}');
    writeFileSync(join(model, 'tokenizer_config.json'), '{}');
    const out = join(tempDir(), 'e');
    const r = await buildEngine({ modelDir: model, outDir: out });
    expect((r.manifest.tokenizer as any).present).toBe(true);
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe('{"model": {}}');
    expect(existsSync(join(out, 'tokenizer_config.json'))).toBe(true);
  });
});

describe('build options', () => {
  test.each([
    [{ maxSeqLen: 0 }, /--max-seq-len must be a positive integer, got 0/],
    [{ maxBatchSize: 2.5 }, /--max-batch-size must be a positive integer, got 2\.5/],
    [{ maxNumTokens: -1 }, /--max-num-tokens must be a positive integer/],
    [{ dtype: 'int4' as any }, /--dtype int4 is not supported; use one of float32, float16, bfloat16/],
    [{ maxNumTokens: 4, maxBatchSize: 8 }, /--max-num-tokens 4 is smaller than --max-batch-size 8/],
  ])('%j is BAD_ARGUMENT', async (opts, message) => {
    expectOneLine(await llmcError(() => build('llama', opts as Partial<BuildOptions>)), 'BAD_ARGUMENT', message);
  });

  test('the engine may not replace (or contain) the checkpoint, even with --force', async () => {
    const model = copyFixture('llama');
    expectOneLine(await llmcError(() => buildEngine({ modelDir: model, outDir: model, force: true })), 'BAD_ARGUMENT', /would replace the checkpoint/);
    expectOneLine(await llmcError(() => buildEngine({ modelDir: model, outDir: dirname(model), force: true })), 'BAD_ARGUMENT', /would replace the checkpoint/);
    expect(existsSync(join(model, 'model.safetensors'))).toBe(true);
    expectOneLine(await llmcError(() => buildEngine({ modelDir: model, outDir: '' })), 'BAD_ARGUMENT', /-o \(the engine directory\) is missing/);
  });

  test('limits are recorded; max_seq_len past max_position_embeddings warns', async () => {
    const { report, lines } = await build('llama', { maxSeqLen: 256, maxBatchSize: 2, maxNumTokens: 64 });
    expect(report.manifest.build).toMatchObject({ max_batch_size: 2, max_seq_len: 256, max_num_tokens: 64 });
    expect(lines.join('\n')).toMatch(/warning: --max-seq-len 256 is beyond the model's max_position_embeddings 128/);
    expect(lines.join('\n')).toMatch(/note: prompts longer than max_num_tokens 64 take several steps/);
  });
});

describe('reader errors', () => {
  async function engineCopy(): Promise<string> {
    return (await build('llama')).dir;
  }

  test('not an engine / missing', async () => {
    expectOneLine(await llmcError(() => readManifest('/nonexistent/engine')), 'NOT_FOUND', /engine directory \/nonexistent\/engine does not exist/);
    const empty = tempDir();
    expectOneLine(await llmcError(() => readManifest(empty)), 'BAD_ENGINE', /is not an llmc engine \(no config\.json\)/);
    expectOneLine(await llmcError(() => readPlan(empty)), 'BAD_ENGINE', /has no rank0\.engine/);
  });

  test('bad magic', async () => {
    const dir = await engineCopy();
    const f = readFileSync(join(dir, ENGINE_FILE));
    f.write('GGUF', 0);
    writeFileSync(join(dir, ENGINE_FILE), f);
    expectOneLine(await llmcError(() => readPlan(dir)), 'BAD_ENGINE', /not an llmc engine file \(bad magic\); rebuild it: llmc build/);
  });

  test('another format version (header or manifest) or op schema is VERSION with the rebuild command', async () => {
    const dir = await engineCopy();
    const f = readFileSync(join(dir, ENGINE_FILE));
    f.writeUInt32LE(FORMAT_VERSION + 1, 8);
    writeFileSync(join(dir, ENGINE_FILE), f);
    expectOneLine(await llmcError(() => readPlan(dir)), 'VERSION', new RegExp(`has format version ${FORMAT_VERSION + 1}; this llmc reads version ${FORMAT_VERSION}; rebuild it`));
    const m = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...m, format_version: 7 }));
    expectOneLine(await llmcError(() => readManifest(dir)), 'VERSION',
      new RegExp(`format version 7; this llmc reads version ${FORMAT_VERSION}; rebuild it: llmc build ${fixtureModel('llama').replace(/[/.]/g, '\\$&')} -o`));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...m, schema_hash: 'deadbeefdeadbeef' }));
    expectOneLine(await llmcError(() => readManifest(dir)), 'VERSION', /built for op schema deadbeefdeadbeef/);
  });

  test('a truncated engine file', async () => {
    const dir = await engineCopy();
    truncateSync(join(dir, ENGINE_FILE), statSync(join(dir, ENGINE_FILE)).size - 1000);
    expectOneLine(await llmcError(() => readPlan(dir)), 'BAD_ENGINE', /runs past the end of the file .* the file is truncated/);
    truncateSync(join(dir, ENGINE_FILE), 20);
    expectOneLine(await llmcError(() => readPlan(dir)), 'BAD_ENGINE', /file too short for the 40-byte header/);
  });

  test('a weight whose nbytes does not match its shape', async () => {
    const dir = await engineCopy();
    const f = readFileSync(join(dir, ENGINE_FILE));
    const planLen = Number(f.readBigUInt64LE(16));
    const text = f.subarray(40, 40 + planLen).toString('utf8').replace('"shape":[64],"offset"', '"shape":[65],"offset"');
    f.write(text, 40);
    writeFileSync(join(dir, ENGINE_FILE), f);
    expectOneLine(await llmcError(() => readPlan(dir)), 'BAD_ENGINE', /weight l0\.attn_norm\.weight: nbytes 256 != 260, the f32 size of shape \[65\]/);
  });
});
