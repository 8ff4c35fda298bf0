// Element conversions between the checkpoint / engine dtypes and f32.
//   f16, bf16 -> f32: exact.
//   f32 -> f16, bf16: round to nearest, ties to even (IEEE default, what torch's .to() does); overflow -> inf,
//   f16 subnormals kept, NaN stays NaN (quiet).
// Typed arrays use the host byte order; the engine and safetensors are little-endian, so a big-endian host is refused.
import { endianness } from 'node:os';
import type { WeightDType } from '../ir/graph.js';
import type { CheckpointDType } from '../hf/safetensors.js';
import { f32ToFp8e4m3, fp8e4m3ToF32 } from '../quant/fp8.js';

if (endianness() !== 'LE') throw new Error('llmc needs a little-endian host');

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits of the f32 value with bits `x` (round to nearest even). */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf, NaN (kept quiet)
  const e = exp - 127 + 15;                                                 // half exponent
  if (e >= 0x1f) return sign | 0x7c00;                                      // too large: inf
  if (e <= 0) {                                                             // half subnormal (or zero)
    if (e < -10) return sign;                                               // below half the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rem > half || (rem === half && (r & 1) === 1)) r++;                 // may become the smallest normal: still right
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) r++;               // a carry into the exponent is right (up to inf)
  return sign | r;
}

/** bfloat16 bits of the f32 value with bits `x` (round to nearest even). */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff; // NaN: keep quiet
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Float32Array | undefined;
/** f32 value of every half bit pattern (built once, 256 KB). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  f16Table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    f16Table[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return f16Table;
}

export function f16ToF32(h: number): number {
  return halfTable()[h & 0xffff];
}

export function bf16ToF32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

export function f32ToF16(v: number): number {
  f32[0] = v;
  return f32BitsToF16(u32[0]);
}

export function f32ToBf16(v: number): number {
  f32[0] = v;
  return f32BitsToBf16(u32[0]);
}

function encodeInts(data: Float32Array, bytes: 1 | 4, min: number, max: number): Buffer {
  const out = Buffer.alloc(data.length * bytes);
  // Buffer.alloc never pools (byteOffset 0), so the typed view is direct; the host is little-endian (above).
  const dst = bytes === 1 ? new Int8Array(out.buffer, out.byteOffset, data.length) : new Int32Array(out.buffer, out.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!(Number.isInteger(v) && v >= min && v <= max)) throw new Error(`integer code ${v} is outside [${min}, ${max}]`);
    dst[i] = v;
  }
  return out;
}

/** A view (or an aligned copy) of `buf` as elements of `T`. */
function view<T>(buf: Buffer, bytesPer: number, make: (b: ArrayBuffer, off: number, n: number) => T): T {
  if (buf.byteOffset % bytesPer === 0) return make(buf.buffer as ArrayBuffer, buf.byteOffset, buf.length / bytesPer);
  const copy = new Uint8Array(buf.length);
  copy.set(buf);
  return make(copy.buffer, 0, buf.length / bytesPer);
}

/** Decodes checkpoint bytes of `dtype` to f32 values. */
export function decodeToF32(buf: Buffer, dtype: CheckpointDType | WeightDType): Float32Array {
  switch (dtype) {
    case 'F32': case 'f32':
      return view(buf, 4, (b, o, n) => new Float32Array(b, o, n)).slice();
    case 'F16': case 'f16': {
      const src = view(buf, 2, (b, o, n) => new Uint16Array(b, o, n));
      const table = halfTable();
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
      return out;
    }
    case 'BF16': case 'bf16': {
      const src = view(buf, 2, (b, o, n) => new Uint16Array(b, o, n));
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
    default:
      // Packed codes and indices are not float values: only the quantized-checkpoint import decodes them.
      throw new Error(`decodeToF32: ${dtype} is not a float dtype`);
  }
}

/**
 * Encodes f32 values as `dtype` bytes. Codes and indices (i8, u4, f8e4m3, i32) must already be exact values of
 * their dtype (integers in range; fp8 numbers): anything else is a compiler bug, not a rounding. u4 packs each
 * row of `cols` values into ceil(cols / 2) bytes, element 2j in the low nibble of byte j.
 */
export function encodeFromF32(data: Float32Array, dtype: WeightDType, cols = data.length): Buffer {
  switch (dtype) {
    case 'i8': return encodeInts(data, 1, -128, 127);
    case 'i32': return encodeInts(data, 4, -(2 ** 31), 2 ** 31 - 1);
    case 'u4': {
      const rows = data.length / cols, rowBytes = Math.ceil(cols / 2);
      const out = Buffer.alloc(rows * rowBytes);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const v = data[r * cols + c];
          if (!(Number.isInteger(v) && v >= 0 && v <= 15)) throw new Error(`u4 code ${v} is not an integer in 0..15`);
          out[r * rowBytes + (c >> 1)] |= c & 1 ? v << 4 : v;
        }
      }
      return out;
    }
    case 'f8e4m3': {
      const out = Buffer.alloc(data.length);
      for (let i = 0; i < data.length; i++) {
        const code = f32ToFp8e4m3(data[i]);
        if (fp8e4m3ToF32(code) !== data[i]) throw new Error(`${data[i]} is not an fp8 e4m3 number`);
        out[i] = code;
      }
      return out;
    }
    default: break;
  }
  if (dtype === 'f32') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const conv = dtype === 'f16' ? f32BitsToF16 : f32BitsToBf16;
  for (let i = 0; i < bits.length; i++) out[i] = conv(bits[i]);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
