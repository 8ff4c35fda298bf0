// Build-time position constants against HF's own values (golden.json `debug`): rope inv_freq (float32 rounding
// reproduced exactly, linear and llama3 scaling included) and ALiBi slopes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alibiSlopes, ropeInvFreq } from '../../src/compiler/layers/positions.js';
import { configOf, graphOf } from './graph-of.js';
import { goldenDir, fixtureModel } from './helpers.js';

const debug = (name: string) => JSON.parse(readFileSync(join(goldenDir, name, 'golden.json'), 'utf8')).debug;

describe('rope inv_freq', () => {
  test.each(['llama', 'llama_rope_linear', 'llama3_rope', 'mistral', 'qwen2', 'llama_fp16'])('%s: bit-identical to HF', (name) => {
    const cfg = configOf(fixtureModel(name));
    const mine = ropeInvFreq(cfg.rope_theta, cfg.rotary_dim, cfg.rope_scaling);
    expect(mine).toEqual(debug(name).rope_inv_freq);
    // and it is what the graph stores
    const w = graphOf(fixtureModel(name)).weights.get('rope.inv_freq')!;
    expect(w.dtype).toBe('f32');
    expect(w.source).toEqual({ op: 'const', values: mine });
  });

  test.each([['gemma', 32, 10000], ['phi', 8, 10000], ['gpt_neox', 4, 10000], ['starcoder2', 16, 10000], ['falcon_mqa', 16, 10000]])(
    '%s (other families, partial rotary): matches HF', (name, dim, base) => {
      expect(ropeInvFreq(base as number, dim as number, null)).toEqual(debug(name as string).rope_inv_freq);
    });

  test('llama3 scaling hits all three bands in the fixture', () => {
    const freqs = ropeInvFreq(10000, 16, null);
    const scaled = ropeInvFreq(10000, 16, { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 });
    expect(scaled[0]).toBe(freqs[0]);                              // high frequency: unchanged
    expect(scaled[7]).toBe(Math.fround(freqs[7] / 8));             // low frequency: / factor
    expect(scaled[1]).not.toBe(freqs[1]);                          // in between: smoothed
    expect(scaled[1]).not.toBe(Math.fround(freqs[1] / 8));
  });
});

describe('alibi slopes', () => {
  test('bloom (4 heads), mpt (6 heads, ceil to 8), falcon_alibi (4 heads) match HF', () => {
    expect(alibiSlopes(4, 'bloom')).toEqual(debug('bloom').alibi_slopes);
    expect(alibiSlopes(6, 'mpt', 8)).toEqual(debug('mpt').alibi_slopes);
    expect(alibiSlopes(4, 'bloom')).toEqual(debug('falcon_alibi').alibi_slopes);
  });

  test('non power of two heads, bloom formula', () => {
    // p = 4: 2^-2, 2^-4, 2^-6, 2^-8, then 2^-1, 2^-3 (README "6 heads")
    expect(alibiSlopes(6, 'bloom')).toEqual([0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]);
    expect(alibiSlopes(16, 'bloom')).toHaveLength(16);
    expect(alibiSlopes(16, 'bloom')[15]).toBe(Math.fround(Math.pow(Math.fround(2 ** -0.5), 16)));
  });
});
