// Pre-quantized checkpoints: each quantized linear's packed tensors (GPTQ qweight/qzeros/scales/g_idx, AWQ
// qweight/qzeros/scales, compressed-tensors weight_packed/weight_scale/weight_zero_point/weight_shape or fp8
// weight/weight_scale) are replaced by one virtual tensor `<module>.weight` [out, in] that carries them, so the
// family's weight map and the graph see an ordinary linear. The quantize pass turns such a linear into linear_q
// whose weights are `packed(part, ...)` sources; packed-decode.ts reads them, bit-exactly, into llmc's layout.
// The formats are documented in docs/quantization.md (and ../shared/golden-quant/README.md).
import { fail } from '../../errors.js';
import type { TensorInfo, TensorReader } from '../hf/safetensors.js';
import type { PackedFormat } from './checkpoint-config.js';

export interface PackedModule {
  module: string;                  // e.g. model.layers.0.self_attn.q_proj
  format: PackedFormat;
  out: number;
  in: number;
  groupSize: number;               // resolved: in_features for per-channel formats
  tensors: Record<string, TensorInfo>;  // by role: qweight, qzeros, scales, g_idx, weight_packed, ...
}

/** The tensor suffixes of one packed module, per format (the first is the one that identifies a module). */
const ROLES: Record<PackedFormat['kind'], { required: string[]; optional: string[] }> = {
  gptq: { required: ['qweight', 'qzeros', 'scales'], optional: ['g_idx', 'bias'] },
  awq: { required: ['qweight', 'qzeros', 'scales'], optional: ['bias'] },
  ct_int: { required: ['weight_packed', 'weight_scale', 'weight_shape'], optional: ['weight_zero_point', 'bias'] },
  ct_fp8: { required: ['weight', 'weight_scale'], optional: ['bias'] },
};

function shapeIs(t: TensorInfo, shape: number[], what: string, m: string): void {
  if (t.shape.join(',') !== shape.join(',')) {
    fail('BAD_CHECKPOINT', `${m}.${what} has shape [${t.shape}], expected [${shape}] for this module`, 'the checkpoint is corrupt or was packed by another tool');
  }
}

function dtypeIs(t: TensorInfo, dtypes: string[], what: string, m: string): void {
  if (!dtypes.includes(t.dtype)) fail('BAD_CHECKPOINT', `${m}.${what} has dtype ${t.dtype}, expected ${dtypes.join(' or ')}`);
}

/**
 * The checkpoint's tensors with every packed module folded into its virtual `<module>.weight`. Throws one-line
 * errors for missing companions (e.g. qzeros), wrong shapes and group sizes that do not divide in_features.
 */
export function foldPackedModules(tensors: ReadonlyMap<string, TensorInfo>, format: PackedFormat, reader: TensorReader): Map<string, TensorInfo> {
  const roles = ROLES[format.kind];
  const key = roles.required[0];
  const out = new Map(tensors);
  const modules = [...tensors.keys()].filter((n) => n.endsWith(`.${key}`) && (format.kind !== 'ct_fp8' || tensors.get(n)!.dtype === 'F8_E4M3'))
    .map((n) => n.slice(0, -key.length - 1));
  if (modules.length === 0) {
    fail('BAD_CHECKPOINT', `config.json says the checkpoint is quantized (${format.label}) but no tensor ends in .${key}`, 'config.json does not match the weights');
  }
  for (const m of modules) {
    const t: Record<string, TensorInfo> = {};
    for (const r of roles.required) {
      const x = tensors.get(`${m}.${r}`);
      if (!x) fail('BAD_CHECKPOINT', `quantized module ${m} has no ${m}.${r}`, `a ${format.label} checkpoint stores ${roles.required.join(', ')} for every quantized linear`);
      t[r] = x;
      out.delete(`${m}.${r}`);
    }
    for (const r of roles.optional) {
      const x = tensors.get(`${m}.${r}`);
      if (!x || r === 'bias') continue;   // the bias stays an ordinary float tensor of the checkpoint
      t[r] = x;
      out.delete(`${m}.${r}`);
    }
    const mod = describe(m, format, t, reader);
    const first = Object.values(t)[0];
    out.set(`${m}.weight`, { name: `${m}.weight`, file: first.file, dtype: 'F32', shape: [mod.out, mod.in], offset: 0, nbytes: 0, packed: mod });
  }
  return out;
}

function describe(m: string, f: PackedFormat, t: Record<string, TensorInfo>, reader: TensorReader): PackedModule {
  const pf = 32 / f.bits;
  for (const r of ['qweight', 'weight']) {
    if (t[r] && t[r].shape.length !== 2) fail('BAD_CHECKPOINT', `${m}.${r} has shape [${t[r].shape}], expected a 2-D matrix`);
  }
  let outF: number, inF: number;
  switch (f.kind) {
    case 'gptq':
      dtypeIs(t.qweight, ['I32'], 'qweight', m);
      [inF, outF] = [t.qweight.shape[0] * pf, t.qweight.shape[1]];
      break;
    case 'awq':
      dtypeIs(t.qweight, ['I32'], 'qweight', m);
      [inF, outF] = [t.qweight.shape[0], t.qweight.shape[1] * 8];
      break;
    case 'ct_int': {
      dtypeIs(t.weight_shape, ['I64', 'I32'], 'weight_shape', m);
      shapeIs(t.weight_shape, [2], 'weight_shape', m);
      const buf = reader.read(t.weight_shape);
      const dims = t.weight_shape.dtype === 'I64' ? [Number(buf.readBigInt64LE(0)), Number(buf.readBigInt64LE(8))] : [buf.readInt32LE(0), buf.readInt32LE(4)];
      if (dims.some((d) => !Number.isSafeInteger(d) || d <= 0)) fail('BAD_CHECKPOINT', `${m}.weight_shape holds [${dims}], not two positive sizes`);
      [outF, inF] = dims;
      dtypeIs(t.weight_packed, ['I32'], 'weight_packed', m);
      shapeIs(t.weight_packed, [outF, Math.ceil(inF / pf)], 'weight_packed', m);
      break;
    }
    case 'ct_fp8':
      [outF, inF] = t.weight.shape;
      break;
  }
  const g = f.groupSize ?? inF;
  if (inF % g !== 0) {
    fail('UNSUPPORTED', `${m}: group_size ${g} does not divide in_features ${inF}`, 'llmc needs whole groups; requantize with a group size that divides every in_features');
  }
  if (f.bits === 4 && g % 2 !== 0) fail('UNSUPPORTED', `${m}: group_size ${g} is odd; 4-bit groups must hold an even number of columns`);
  const ng = inF / g;
  const scaleDtypes = ['F16', 'BF16', 'F32'];
  switch (f.kind) {
    case 'gptq':
      if (outF % pf !== 0) fail('BAD_CHECKPOINT', `${m}: out_features ${outF} is not a multiple of ${pf}, so qzeros cannot be packed`);
      dtypeIs(t.qzeros, ['I32'], 'qzeros', m);
      shapeIs(t.qzeros, [ng, outF / pf], 'qzeros', m);
      dtypeIs(t.scales, scaleDtypes, 'scales', m);
      shapeIs(t.scales, [ng, outF], 'scales', m);
      if (t.g_idx) {
        dtypeIs(t.g_idx, ['I32', 'I64'], 'g_idx', m);
        if (t.g_idx.shape.length !== 1 || t.g_idx.shape[0] !== inF) {
          fail('BAD_CHECKPOINT', `${m}.g_idx has shape [${t.g_idx.shape}], expected [${inF}] (one group index per input column)`, 'the checkpoint is corrupt or was packed by another tool');
        }
      } else if (f.descAct) {
        fail('BAD_CHECKPOINT', `quantized module ${m} has no ${m}.g_idx but desc_act is true`, 'an act-order GPTQ checkpoint stores g_idx for every quantized linear');
      }
      break;
    case 'awq':
      dtypeIs(t.qzeros, ['I32'], 'qzeros', m);
      shapeIs(t.qzeros, [ng, outF / 8], 'qzeros', m);
      dtypeIs(t.scales, scaleDtypes, 'scales', m);
      shapeIs(t.scales, [ng, outF], 'scales', m);
      break;
    case 'ct_int':
      dtypeIs(t.weight_scale, scaleDtypes, 'weight_scale', m);
      shapeIs(t.weight_scale, [outF, ng], 'weight_scale', m);
      if (f.symmetric && t.weight_zero_point) fail('BAD_CHECKPOINT', `${m}.weight_zero_point is stored but the config says symmetric`);
      if (!f.symmetric) {
        if (!t.weight_zero_point) fail('BAD_CHECKPOINT', `quantized module ${m} has no ${m}.weight_zero_point but the config says asymmetric`);
        dtypeIs(t.weight_zero_point, ['I32'], 'weight_zero_point', m);
        shapeIs(t.weight_zero_point, [Math.ceil(outF / pf), ng], 'weight_zero_point', m);
      }
      break;
    case 'ct_fp8':
      dtypeIs(t.weight, ['F8_E4M3'], 'weight', m);
      dtypeIs(t.weight_scale, scaleDtypes, 'weight_scale', m);
      shapeIs(t.weight_scale, [outF, 1], 'weight_scale', m);
      break;
  }
  return { module: m, format: f, out: outF, in: inF, groupSize: g, tensors: t };
}

/** What llmc stores for a packed module: its code dtype and whether it needs offsets / a column permutation. */
export function packedLayout(p: PackedModule): { codes: 'i8' | 'u4' | 'f8e4m3'; offsets: boolean; perm: boolean } {
  const f = p.format;
  if (f.kind === 'ct_fp8') return { codes: 'f8e4m3', offsets: false, perm: false };
  // 8-bit codes are stored signed; a symmetric 8-bit format then has zero point 0 (GPTQ v1's 128, CT's 0).
  const offsets = !(f.bits === 8 && f.symmetric && (f.kind === 'gptq' || f.kind === 'ct_int'));
  return { codes: f.bits === 4 ? 'u4' : 'i8', offsets, perm: f.kind === 'gptq' && f.descAct };
}
