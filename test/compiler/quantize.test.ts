// The quantize pass (before/after IR baselines, then fuse_sibling_linears on its output), the round-to-nearest
// quantizer's error bounds, FP8 E4M3 conversions, and the quantized weight sources' text form.
// Baselines: test/compiler/baselines/passes/quantize/<case>.after.ir; LLMC_ACCEPT_BASELINES=1 regenerates them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGraph } from '../../src/compiler/ir/parse.js';
import { printGraph } from '../../src/compiler/ir/print.js';
import { verify } from '../../src/compiler/ir/verify.js';
import { formatSource, quantize, packed, tensor, rows, concat } from '../../src/compiler/ir/weight-source.js';
import { f32ToFp8e4m3, fp8e4m3ToF32 } from '../../src/compiler/quant/fp8.js';
import { dequantizeRows, quantizeRows } from '../../src/compiler/quant/rtn.js';
import { fuseSiblingLinears } from '../../src/passes/fuse-sibling-linears.js';
import { quantizePass, type QuantDecision, type QuantizeOptions } from '../../src/passes/quantize.js';
import { repoRoot } from './helpers.js';

const ACCEPT = process.env.LLMC_ACCEPT_BASELINES === '1';
const dir = join(repoRoot, 'test', 'compiler', 'baselines', 'passes', 'quantize');

const CASES: Record<string, QuantizeOptions> = {
  'int8': { scheme: 'int8' },
  'int4-g32-asym': { scheme: 'int4', groupSize: 32 },
  'int4-g128-falls-back': { scheme: 'int4', groupSize: 128 },      // in 64 and 96: groups of 64 and 32
  'int4-sym-keep-float-lm-head': { scheme: 'int4', groupSize: 32, symmetric: true, keepFloat: [/^l0\.o$/], quantizeLmHead: true },
  'fp8': { scheme: 'fp8' },
};

describe('quantize pass baselines (quantize, then fuse_sibling_linears)', () => {
  const before = readFileSync(join(dir, 'block.before.ir'), 'utf8');
  test.each(Object.keys(CASES))('%s', (name) => {
    const input = parseGraph(before);
    const inputText = printGraph(input);
    const decisions: QuantDecision[] = [];
    const q = quantizePass({ ...CASES[name], decisions }).run(input);
    expect(printGraph(input)).toBe(inputText);               // pure
    verify(q, 'after quantize');
    const fused = fuseSiblingLinears.run(q);
    verify(fused, 'after fuse_sibling_linears');
    const text = `${printGraph(q)}\n# ---- after fuse_sibling_linears\n${printGraph(fused)}\n# ---- decisions\n${decisions.map((d) => `# ${d.node}: ${d.scheme}${d.reason ? ` (${d.reason})` : ''}`).join('\n')}\n`;
    const path = join(dir, `${name}.after.ir`);
    if (ACCEPT || !existsSync(path)) {
      if (!ACCEPT) throw new Error(`missing baseline ${path}; run with LLMC_ACCEPT_BASELINES=1 to create it`);
      writeFileSync(path, text);
    } else {
      expect(text).toBe(readFileSync(path, 'utf8'));
    }
  });

  test('every decoder linear gets a decision; the LM head stays float by default', () => {
    const decisions: QuantDecision[] = [];
    const g = quantizePass({ scheme: 'int8', decisions }).run(parseGraph(before));
    expect(decisions.map((d) => d.node)).toEqual(['l0.q', 'l0.k', 'l0.v', 'l0.attn_out', 'l0.gate', 'l0.up', 'l0.mlp_out', 'logits']);
    expect(decisions.find((d) => d.node === 'logits')).toMatchObject({ scheme: 'float' });
    expect(g.nodes.filter((n) => n.op === 'linear_q').length).toBe(7);
    expect(g.nodes.find((n) => n.name === 'logits')!.op).toBe('linear');
  });

  test('a group size that divides nothing keeps the linear float and says why', () => {
    const odd = [
      'weight @e.weight: f32[8,40] = tensor("e")',
      'weight @l0.q.weight: f32[40,40] = tensor("q")',
      '%0:f32[tokens,40] = embedding(@e.weight) {scale=1}  # embed',
      '%1:f32[tokens,40] = linear(%0, @l0.q.weight)  # l0.q',
      'output logits = %1', ''].join('\n');
    const decisions: QuantDecision[] = [];
    const g = quantizePass({ scheme: 'int4', groupSize: 32, decisions }).run(parseGraph(odd));
    expect(decisions).toEqual([{ node: 'l0.q', scheme: 'float', reason: 'in_features 40 is not a multiple of 32' }]);
    expect(g.nodes[1].op).toBe('linear');
  });
});

describe('round-to-nearest quantization', () => {
  const inF = 128;
  const w = Float32Array.from({ length: 4 * inF }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)) * 0.05);
  w.fill(0, 3 * inF);                                         // an all-zero row: scale 1, codes 0 (or the zero point)

  test.each([
    ['int8', { kind: 'int8', groupSize: inF, symmetric: true }],
    ['int4 asym g32', { kind: 'int4', groupSize: 32, symmetric: false }],
    ['int4 sym g64', { kind: 'int4', groupSize: 64, symmetric: true }],
  ] as const)('%s: codes in range, error at most half a step', (_, scheme) => {
    const q = quantizeRows(w, inF, scheme);
    const deq = dequantizeRows(q, inF, scheme.groupSize);
    const [lo, hi] = scheme.kind === 'int8' ? [-127, 127] : [0, 15];
    for (let i = 0; i < w.length; i++) {
      expect(Number.isInteger(q.codes[i]) && q.codes[i] >= lo && q.codes[i] <= hi).toBe(true);
      const s = q.scales[Math.floor(i / inF) * (inF / scheme.groupSize) + Math.floor((i % inF) / scheme.groupSize)];
      expect(Math.abs(deq[i] - w[i])).toBeLessThanOrEqual(s * 0.5 * (1 + 1e-5) + 1e-7);
    }
    expect(deq.subarray(3 * inF).every((v) => v === 0)).toBe(true);
  });

  test('fp8: every weight within the E4M3 relative step (2^-4) of its value', () => {
    const scheme = { kind: 'fp8', groupSize: inF, symmetric: true } as const;
    const q = quantizeRows(w, inF, scheme);
    const deq = dequantizeRows(q, inF, inF);
    for (let i = 0; i < 3 * inF; i++) {
      const s = q.scales[Math.floor(i / inF)];
      expect(Math.abs(deq[i] - w[i])).toBeLessThanOrEqual(Math.abs(w[i]) / 16 + s * 2 ** -9);
    }
  });
});

describe('fp8 e4m3', () => {
  test('every finite code round-trips, NaN codes decode to NaN, 448 is the largest', () => {
    for (let b = 0; b < 256; b++) {
      const v = fp8e4m3ToF32(b);
      if ((b & 0x7f) === 0x7f) expect(Number.isNaN(v)).toBe(true);
      else expect(f32ToFp8e4m3(v)).toBe(b);
    }
    expect(fp8e4m3ToF32(0x7e)).toBe(448);
    expect(f32ToFp8e4m3(1e6)).toBe(0x7e);                    // saturates
    expect(f32ToFp8e4m3(-1e6)).toBe(0xfe);
  });

  test('rounds to nearest, ties to the even code', () => {
    // 1.0 (0x38) and 1.125 (0x39): 1.0625 is a tie -> the even code 0x38; a hair above goes up.
    expect(f32ToFp8e4m3(1.0625)).toBe(0x38);
    expect(f32ToFp8e4m3(1.0626)).toBe(0x39);
    expect(f32ToFp8e4m3(1.1875)).toBe(0x3a);                 // tie between 0x39 and 0x3a -> 0x3a
  });
});

describe('quantized weight sources print and parse', () => {
  test.each([
    quantize({ kind: 'int4', groupSize: 128, symmetric: false }, 'codes', tensor('model.layers.0.mlp.down_proj.weight')),
    quantize({ kind: 'fp8', groupSize: 64, symmetric: true }, 'scales', concat(tensor('a'), rows(tensor('b'), 0, 4))),
    packed('perm', 32, tensor('model.layers.0.self_attn.q_proj.weight')),
    packed('offsets', 32, concat(tensor('q'), tensor('k'))),
  ])('%#', (src) => {
    const ir = `weight @w: f32[4,4] = ${formatSource(src)}\n%0:f32[tokens,4] = embedding(@w) {scale=1}  # e\noutput logits = %0\n`;
    expect(formatSource(parseGraph(ir).weights.get('w')!.source)).toBe(formatSource(src));
  });
});
