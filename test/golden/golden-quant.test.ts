// Pre-quantized checkpoints (GPTQ v1, AWQ GEMM, compressed-tensors) against HuggingFace transformers: every
// fixture of test/fixtures/golden-quant (a verbatim copy of ../shared/golden-quant) is built through the CLI with
// `--dtype float32` and run like the float golden suite: prefill and KV-cache decode logits within 1e-4 of the
// reference (fp32 compute on exactly dequantized weights), greedy tokens identical. Each repacked module is also
// dequantized from the engine's own bytes (codes, scales, offsets, act-order permutation) and hashed: it must be
// bit for bit the format's W = fp32(scale) * (q - zero) (golden.json dequant_sha256).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PlanWeightValue } from '../../src/compiler/engine/format.js';
import { readPlan, readWeightBytes, type EnginePlan } from '../../src/compiler/engine/reader.js';
import { fp8e4m3ToF32 } from '../../src/compiler/quant/fp8.js';
import { llmc, tempDir } from '../helpers/cli.js';
import { expectMatchesReference, fixtureNames, goldenQuantDir, loadFixture } from '../helpers/golden.js';

const TOL = 1e-4;
const work = tempDir('llmc-golden-quant-');
const FIXTURES = fixtureNames(goldenQuantDir);

test('the golden-quant index lists every format llmc reads', () => {
  expect(FIXTURES.length).toBeGreaterThanOrEqual(9);
});

interface QuantTensor { module: string; shape: [number, number]; dequant_sha256: string }

/** The engine weight holding module m's rows: the unfused l{i}.{q,k,...} or a fused sibling, with a row offset. */
function locate(ep: EnginePlan, module: string, all: QuantTensor[]): { base: string; row0: number } {
  const m = /layers\.(\d+)\.(self_attn|mlp)\.(\w+)_proj$/.exec(module)!;
  const [layer, part] = [m[1], m[3]];
  const names = new Set(ep.plan.values.map((v) => v.name));
  const short = part === 'o' ? 'o' : part;
  if (names.has(`l${layer}.${short}.qweight`)) return { base: `l${layer}.${short}`, row0: 0 };
  const groups: Record<string, string[]> = { qkv: ['q', 'k', 'v'], gate_up: ['gate', 'up'] };
  for (const [fused, members] of Object.entries(groups)) {
    if (!members.includes(part) || !names.has(`l${layer}.${fused}.qweight`)) continue;
    let row0 = 0;
    for (const p of members.slice(0, members.indexOf(part))) {
      row0 += all.find((t) => t.module === module.replace(`${part}_proj`, `${p}_proj`))!.shape[0];
    }
    return { base: `l${layer}.${fused}`, row0 };
  }
  throw new Error(`no engine weight for ${module}`);
}

/** Module rows [row0, row0 + out) dequantized from the engine's bytes into [out, in] in the original column order. */
function dequantFromEngine(dir: string, ep: EnginePlan, base: string, row0: number, [out, inF]: [number, number]): Float32Array {
  const q = ep.plan.values.find((v) => v.name === `${base}.qweight`)! as PlanWeightValue;
  const group = ep.plan.nodes.find((n) => n.inputs[1] === q.id)!.attrs.group_size as number;
  const ng = inF / group;
  const bytes = readWeightBytes(dir, ep, `${base}.qweight`);
  const f32 = (name: string) => {
    if (!ep.plan.values.some((v) => v.name === name)) return null;
    const b = readWeightBytes(dir, ep, name);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  const scales = f32(`${base}.scales`)!, offsets = f32(`${base}.offsets`);
  const permBytes = ep.plan.values.some((v) => v.name === `${base}.perm`) ? readWeightBytes(dir, ep, `${base}.perm`) : null;
  const w = new Float32Array(out * inF);
  for (let o = 0; o < out; o++) {
    const r = row0 + o;
    for (let c = 0; c < inF; c++) {
      let code: number;
      if (q.dtype === 'u4') code = (bytes[r * (inF / 2) + (c >> 1)] >> ((c & 1) * 4)) & 15;
      else if (q.dtype === 'i8') code = bytes.readInt8(r * inF + c);
      else code = fp8e4m3ToF32(bytes[r * inF + c]);
      const g = Math.floor(c / group);
      const sq = Math.fround(scales[r * ng + g] * code);
      const v = offsets ? Math.fround(sq + offsets[r * ng + g]) : sq;   // (no `+ 0`: it would turn -0 into +0)
      const col = permBytes ? permBytes.readInt32LE(4 * c) : c;
      w[o * inF + col] = v;
    }
  }
  return w;
}

describe.each(FIXTURES)('golden-quant %s', (name) => {
  const fx = loadFixture(name, goldenQuantDir);
  const engine = join(work, name);

  beforeAll(() => {
    const r = llmc(['build', fx.modelDir, '-o', engine, '--dtype', 'float32'], { timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
    expect(r.stdout).toMatch(/checkpoint is pre-quantized: .*repacked bit-exactly/);
  });

  test('every quantized module dequantizes bit for bit to the format\'s own weights', () => {
    const ep = readPlan(engine);
    const tensors = (fx.json as unknown as { quantization: { tensors: QuantTensor[] } }).quantization.tensors;
    expect(tensors.length).toBeGreaterThan(0);
    for (const t of tensors) {
      const { base, row0 } = locate(ep, t.module, tensors);
      const w = dequantFromEngine(engine, ep, base, row0, t.shape);
      const sha = createHash('sha256').update(Buffer.from(w.buffer)).digest('hex');
      expect(`${t.module} ${sha}`).toBe(`${t.module} ${t.dequant_sha256}`);
    }
  });

  test.each([0, 1])('prompt %i: prefill + decode logits within 1e-4, greedy tokens identical', (p) => {
    expect(existsSync(join(engine, 'rank0.engine'))).toBe(true);
    expectMatchesReference(fx, engine, p, join(work, `${name}-${p}.f32`), TOL, (args) => llmc(args));
  });
});
