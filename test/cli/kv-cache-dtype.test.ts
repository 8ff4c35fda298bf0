// llmc build --kv-cache-dtype (docs/kv-cache.md): the plan names the storage, the memory plan, the build output,
// inspect and the runtime's block count from a byte budget all count its real bytes, and golden fixtures built
// with float32 weights and a 16-bit or quantized KV cache stay within a stated distance of HF's logits, with
// HF's greedy tokens up to the first step whose top-1/top-2 margin is below twice that distance.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPlan } from '../../src/compiler/engine/reader.js';
import { Engine } from '../../src/runtime/engine.js';
import { expectCleanError, llmc, tempDir } from '../helpers/cli.js';
import { loadFixture, maxAbsDiffRows, readF32 } from '../helpers/golden.js';

const work = tempDir('llmc-kvdtype-');

// Max |logit - HF logit| allowed per KV dtype over prefill and decode rows. The fixtures' logits reach |9|;
// float16/bfloat16 round each stored element to 11/8 significant bits; int8 and fp8 keep one f32 scale per token
// and kv head (errors up to max|row| / 254, and 1/16 relative for e4m3's 3 mantissa bits). About twice the
// largest error measured over these fixtures (docs/kv-cache.md has the table: 7.8e-3, 5.7e-2, 0.14, 0.72).
const TOL: Record<string, number> = { float16: 1.5e-2, bfloat16: 1e-1, int8: 0.3, fp8: 1.5 };

// Every attention variant: MHA + rope, GQA, sliding window, head_dim 256, MQA, ALiBi, learned positions, parallel
// residual, partial rotary.
const FIXTURES = ['llama', 'mistral', 'qwen2', 'gemma', 'falcon_mqa', 'bloom', 'gpt2', 'gpt_neox', 'phi'];

// Bytes per token the layout gives (all layers, k and v, scales for int8/fp8): kv_block_layout with 16-token blocks.
function kvBytesPerToken(layers: number, kvHeads: number, headDim: number, dtype: string): number {
  const elem = { float32: 4, float16: 2, bfloat16: 2, int8: 1, fp8: 1 }[dtype]!;
  const scales = dtype === 'int8' || dtype === 'fp8' ? 2 * kvHeads * 4 : 0;
  return layers * (2 * kvHeads * headDim * elem + scales);
}

describe('memory: plan, build output, inspect and the runtime count the KV dtype\'s bytes', () => {
  const fx = loadFixture('llama');   // 2 layers, 2 kv heads, head_dim 16
  test.each(['float32', 'float16', 'bfloat16', 'int8', 'fp8'])('%s', async (dtype) => {
    const engine = join(work, `mem-${dtype}`);
    const b = llmc(['build', fx.modelDir, '-o', engine, '--dtype', 'float32', '--kv-cache-dtype', dtype, '--max-seq-len', '128']);
    expect(b.code).toBe(0);
    const perToken = kvBytesPerToken(2, 2, 16, dtype);
    expect(b.stdout).toMatch(new RegExp(`memory plan: KV cache ${dtype === 'int8' ? 'int8' : dtype === 'fp8' ? 'fp8 e4m3' : ''}[^\\n]*, ${perToken} bytes/token;`));
    const { plan } = readPlan(engine);
    expect(plan.kv_cache.dtype).toBe({ float32: 'f32', float16: 'f16', bfloat16: 'bf16', int8: 'i8', fp8: 'f8e4m3' }[dtype]);
    const ins = llmc(['inspect', engine]);
    expect(ins.code).toBe(0);
    expect(ins.stdout).toMatch(new RegExp(`kv_cache_dtype\\s+${dtype}`));
    // The runtime: blocks from a byte budget are budget / (16 tokens x bytes per token), and it reports the same size.
    const budget = 1_000_000;
    const e = await Engine.load(engine, { kvCacheBytes: budget, numThreads: 1 });
    try {
      const info = e.info();
      expect(info.kv_cache_dtype).toBe(plan.kv_cache.dtype);
      expect(info.kv_bytes_per_token).toBe(perToken);
      expect(info.kv_block_count).toBe(Math.floor(budget / (16 * perToken)));
      expect(info.kv_cache_bytes).toBe((info.kv_block_count as number) * 16 * perToken);
    } finally {
      e.close();
    }
  });
});

describe('bad input', () => {
  test('an unknown --kv-cache-dtype is a one-line error naming the choices', () => {
    const fx = loadFixture('llama');
    const r = llmc(['build', fx.modelDir, '-o', join(work, 'bad'), '--kv-cache-dtype', 'int4']);
    expectCleanError(r, /^error: --kv-cache-dtype int4 is not supported; use one of float32, float16, bfloat16, int8, fp8$/);
  });

  test('an engine whose plan names a KV dtype this runtime lacks is refused with the rebuild hint', () => {
    const fx = loadFixture('llama');
    const engine = join(work, 'bad-plan');
    expect(llmc(['build', fx.modelDir, '-o', engine, '--dtype', 'float32']).code).toBe(0);
    const file = join(engine, 'rank0.engine');
    const bytes = readFileSync(file);
    const at = bytes.indexOf('"dtype":"f32","block_size"');
    expect(at).toBeGreaterThan(0);
    bytes.write('"dtype":"q4x","block_size"', at);   // same length: the header's offsets stay valid
    writeFileSync(file, bytes);
    const r = llmc(['run', engine, '--token-ids', '1,2,3', '--max-new-tokens', '1']);
    expectCleanError(r, /kv_cache\.dtype "q4x" is not supported by this runtime \(f32, f16, bf16, i8, f8e4m3\)/);
  });
});

describe.each(Object.keys(TOL))('golden fixtures with a %s KV cache', (dtype) => {
  test.each(FIXTURES)('%s: logits within the tolerance, greedy tokens up to the first small margin', (name) => {
    const fx = loadFixture(name);
    const engine = join(work, `${name}-${dtype}`);
    const b = llmc(['build', fx.modelDir, '-o', engine, '--dtype', 'float32', '--kv-cache-dtype', dtype], { timeoutMs: 600_000 });
    if (b.code !== 0) throw new Error(b.stderr);
    const vocab = fx.json.vocab_size;
    for (const p of [0, 1]) {
      const prompt = fx.json.prompts[p];
      const want = fx.json.greedy[p].new_tokens;
      const logitsFile = join(work, `${name}-${dtype}-${p}.f32`);
      const r = llmc(['run', engine, '--token-ids', prompt.join(','), '--max-new-tokens', String(want.length),
        '--temperature', '0', '--ignore-eos', '--json', '--logits-out', logitsFile]);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      const got = readF32(logitsFile);
      // Tokens agree until HF's margin is too small for the tolerance to decide; past a divergence the inputs differ.
      const margins = fx.json.greedy[p].top1_minus_top2_margins;
      let agree = margins.findIndex((m) => m < 2 * TOL[dtype]);
      if (agree < 0) agree = want.length;
      expect(out.output_ids.slice(0, agree)).toEqual(want.slice(0, agree));
      const prefill = readF32(join(fx.dir, fx.json.prefill[p].file));
      expect(maxAbsDiffRows(got, 0, prefill, 0, prompt.length, vocab)).toBeLessThanOrEqual(TOL[dtype]);
      if (p === 0) {
        const decode = readF32(join(fx.dir, fx.json.decode.file));
        // Decode rows compare while the fed-back tokens are HF's: rows up to the first disagreement.
        let same = 0;
        while (same < want.length && out.output_ids[same] === want[same]) same++;
        const rows = Math.min(fx.json.decode.shape[0], same + 1);
        expect(maxAbsDiffRows(got, prompt.length - 1, decode, 0, rows, vocab)).toBeLessThanOrEqual(TOL[dtype]);
      }
    }
  });
});
