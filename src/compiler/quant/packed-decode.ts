// Reads a packed module's parts in llmc's linear_q layout (schema/ops.json), rows [r0, r1) of the output
// features at a time, as f32 values (the engine writer encodes them to their dtypes):
//   codes   [out, in]       i8 signed / u4 0..15 / the fp8 number; columns in the act-order permutation if any
//   scales  [out, groups]   f32 (exactly the stored f16 / bf16 scale)
//   offsets [out, groups]   -scale * zero, where W = scale * (code - zero) (exact in f32 for 4- and 8-bit codes)
//   perm    [in]            GPTQ act-order: column i of codes is input column perm[i]
// Dequantizing these gives bit for bit the format's own W = fp32(scale) * (q - zero).
import { fail } from '../../errors.js';
import { decodeToF32 } from '../engine/convert.js';
import type { TensorInfo, TensorReader } from '../hf/safetensors.js';
import { fp8e4m3ToF32 } from './fp8.js';
import { packedLayout, type PackedModule } from './packed.js';

export type PackedPart = 'codes' | 'scales' | 'offsets' | 'perm';

/** Rows [r0, r1) of a stored 2-D tensor (all columns) as raw bytes. */
function rowBytes(reader: TensorReader, t: TensorInfo, r0: number, r1: number): Buffer {
  const rb = t.nbytes / t.shape[0];
  return reader.read(t, r0 * rb, (r1 - r0) * rb);
}

/** Columns [c0, c1) of every row of a stored 2-D int32 tensor, as uint32 words [rows, c1 - c0]. */
function int32Columns(reader: TensorReader, t: TensorInfo, c0: number, c1: number): Uint32Array {
  const [rows, cols] = t.shape;
  const out = new Uint32Array(rows * (c1 - c0));
  for (let r = 0; r < rows; r++) {
    const b = reader.read(t, (r * cols + c0) * 4, (c1 - c0) * 4);
    for (let c = 0; c < c1 - c0; c++) out[r * (c1 - c0) + c] = b.readUInt32LE(4 * c);
  }
  return out;
}

function int32Rows(reader: TensorReader, t: TensorInfo, r0: number, r1: number): Uint32Array {
  const b = rowBytes(reader, t, r0, r1);
  const out = new Uint32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readUInt32LE(4 * i);
  return out;
}

function floatTensor(reader: TensorReader, t: TensorInfo, r0: number, r1: number): Float32Array {
  return decodeToF32(rowBytes(reader, t, r0, r1), t.dtype);
}

const field = (word: number, j: number, bits: number) => (word >>> (bits * j)) & ((1 << bits) - 1);
const AWQ_SLOT = [0, 4, 1, 5, 2, 6, 3, 7];   // output column 8c + p sits in nibble AWQ_SLOT[p] of word c

/** GPTQ's g_idx -> the column order that makes every group contiguous, checking that it is a valid grouping. */
function gptqPerm(p: PackedModule, reader: TensorReader): Int32Array {
  const { module: m, in: inF, groupSize: g } = p;
  const ng = inF / g;
  const perm = new Int32Array(inF);
  const gi = p.tensors.g_idx;
  if (!gi) {
    for (let i = 0; i < inF; i++) perm[i] = i;
    return perm;
  }
  const b = reader.read(gi);
  const idx = (i: number) => (gi.dtype === 'I64' ? Number(b.readBigInt64LE(8 * i)) : b.readInt32LE(4 * i));
  const fill = new Int32Array(ng);
  for (let i = 0; i < inF; i++) {
    const k = idx(i);
    if (!(k >= 0 && k < ng)) fail('BAD_CHECKPOINT', `${m}.g_idx[${i}] = ${k} is outside [0, ${ng})`);
    if (!p.format.descAct && k !== Math.floor(i / g)) {
      fail('BAD_CHECKPOINT', `${m}.g_idx[${i}] = ${k} but desc_act is false (expected ${Math.floor(i / g)})`, 'set desc_act: true in quantization_config if the checkpoint uses act-order');
    }
    if (fill[k] === g) fail('BAD_CHECKPOINT', `${m}.g_idx puts more than group_size ${g} columns in group ${k}`);
    perm[k * g + fill[k]++] = i;
  }
  return perm;
}

/** Per-module cache of the permutation (every codes block needs it). */
const permCache = new WeakMap<PackedModule, Int32Array>();

function permOf(p: PackedModule, reader: TensorReader): Int32Array {
  let perm = permCache.get(p);
  if (!perm) permCache.set(p, (perm = gptqPerm(p, reader)));
  return perm;
}

/** Part `part` of module p, output rows [r0, r1) (perm: the whole vector). */
export function packedPartRows(p: PackedModule, part: PackedPart, r0: number, r1: number, reader: TensorReader): Float32Array {
  const { in: inF, groupSize: g, format: f, tensors: t } = p;
  const ng = inF / g;
  const n = r1 - r0;
  const bits = f.bits;
  const layout = packedLayout(p);
  if (part === 'perm') return Float32Array.from(permOf(p, reader));
  if (part === 'offsets' && !layout.offsets) throw new Error(`${p.module} has no offsets part`);

  // ---- scales [n, ng] and zero points z [n, ng] (in the stored code convention), per format
  const scaleZero = (): { s: Float32Array; z: Float32Array | null } => {
    const s = new Float32Array(n * ng);
    let z: Float32Array | null = null;
    switch (f.kind) {
      case 'gptq': case 'awq': {
        const st = floatTensor(reader, t.scales, 0, ng);                      // [ng, out]
        const pf = 32 / bits;
        const zw = f.kind === 'gptq' ? int32Columns(reader, t.qzeros, Math.floor(r0 / pf), Math.ceil(r1 / pf)) : int32Columns(reader, t.qzeros, Math.floor(r0 / 8), Math.ceil(r1 / 8));
        const zcols = f.kind === 'gptq' ? Math.ceil(r1 / pf) - Math.floor(r0 / pf) : Math.ceil(r1 / 8) - Math.floor(r0 / 8);
        z = new Float32Array(n * ng);
        for (let o = r0; o < r1; o++) {
          for (let k = 0; k < ng; k++) {
            s[(o - r0) * ng + k] = st[k * p.out + o];
            const zc = f.kind === 'gptq' ? Math.floor(o / pf) - Math.floor(r0 / pf) : Math.floor(o / 8) - Math.floor(r0 / 8);
            const w = zw[k * zcols + zc];
            // GPTQ v1 stores zero - 1; AWQ stores the zero in its interleaved nibble order.
            z[(o - r0) * ng + k] = f.kind === 'gptq' ? field(w, o % pf, bits) + 1 : field(w, AWQ_SLOT[o % 8], 4);
          }
        }
        break;
      }
      case 'ct_int': {
        s.set(floatTensor(reader, t.weight_scale, r0, r1));
        if (!f.symmetric) {
          const pf = 32 / bits;
          const zw = int32Rows(reader, t.weight_zero_point, Math.floor(r0 / pf), Math.ceil(r1 / pf)); // [rows, ng]
          z = new Float32Array(n * ng);
          for (let o = r0; o < r1; o++) {
            for (let k = 0; k < ng; k++) z[(o - r0) * ng + k] = field(zw[(Math.floor(o / pf) - Math.floor(r0 / pf)) * ng + k], o % pf, bits) - (1 << (bits - 1));
          }
        }
        break;
      }
      case 'ct_fp8':
        s.set(floatTensor(reader, t.weight_scale, r0, r1));
        break;
    }
    return { s, z };
  };

  if (part === 'scales' || part === 'offsets') {
    const { s, z } = scaleZero();
    if (part === 'scales') {
      if (!layout.offsets && z) {
        // A symmetric 8-bit format stores no offsets: its zero must be the format's fixed one.
        const fixed = f.kind === 'gptq' ? 128 : 0;
        const i = z.findIndex((v) => v !== fixed);
        if (i >= 0) fail('BAD_CHECKPOINT', `${p.module}: zero point ${z[i]} in a checkpoint whose config says sym (expected ${fixed})`, 'set sym: false in quantization_config');
      }
      return s;
    }
    const off = new Float32Array(n * ng);
    for (let i = 0; i < off.length; i++) {
      // zero in llmc's code convention: u4 codes are the stored unsigned field; i8 codes are signed.
      let zero: number;
      if (f.kind === 'ct_int') zero = bits === 4 ? (z ? z[i] : 0) + 8 : (z ? z[i] : 0);
      else zero = bits === 8 ? z![i] - 128 : z![i];
      off[i] = Math.fround(-s[i] * zero);
    }
    return off;
  }

  // ---- codes [n, in]
  const codes = new Float32Array(n * inF);
  switch (f.kind) {
    case 'gptq': {
      const pf = 32 / bits;
      const qw = int32Columns(reader, t.qweight, r0, r1);                      // [in/pf, n]
      const perm = permOf(p, reader);
      for (let o = 0; o < n; o++) {
        for (let c = 0; c < inF; c++) {
          const i = perm[c];
          const q = field(qw[Math.floor(i / pf) * n + o], i % pf, bits);
          codes[o * inF + c] = bits === 8 ? q - 128 : q;
        }
      }
      break;
    }
    case 'awq': {
      const qw = int32Columns(reader, t.qweight, Math.floor(r0 / 8), Math.ceil(r1 / 8));  // [in, words]
      const words = Math.ceil(r1 / 8) - Math.floor(r0 / 8);
      for (let o = r0; o < r1; o++) {
        const wc = Math.floor(o / 8) - Math.floor(r0 / 8);
        for (let i = 0; i < inF; i++) codes[(o - r0) * inF + i] = field(qw[i * words + wc], AWQ_SLOT[o % 8], 4);
      }
      break;
    }
    case 'ct_int': {
      const pf = 32 / bits;
      const wpr = Math.ceil(inF / pf);
      const qw = int32Rows(reader, t.weight_packed, r0, r1);                  // [n, ceil(in/pf)]
      for (let o = 0; o < n; o++) {
        for (let i = 0; i < inF; i++) {
          const v = field(qw[o * wpr + Math.floor(i / pf)], i % pf, bits);
          codes[o * inF + i] = bits === 4 ? v : v - 128;                         // u4 keeps the field; i8 = q
        }
      }
      break;
    }
    case 'ct_fp8': {
      const b = rowBytes(reader, t.weight, r0, r1);
      for (let i = 0; i < b.length; i++) {
        const v = fp8e4m3ToF32(b[i]);
        if (Number.isNaN(v)) fail('BAD_CHECKPOINT', `${p.module}.weight holds an fp8 NaN`);
        codes[i] = v;
      }
      break;
    }
  }
  return codes;
}
