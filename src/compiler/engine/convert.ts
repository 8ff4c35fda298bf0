// Element conversions between the checkpoint / engine dtypes and f32.
//   f16, bf16 -> f32: exact.
//   f32 -> f16, bf16: round to nearest, ties to even (IEEE default, what torch's .to() does); overflow -> inf,
//   f16 subnormals kept, NaN stays NaN (quiet).
// Typed arrays use the host byte order; the engine and safetensors are little-endian, so a big-endian host is refused.
import { endianness } from 'node:os';
import type { WeightDType } from '../ir/graph.js';
import type { CheckpointDType } from '../hf/safetensors.js';

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
  }
}

/** Encodes f32 values as `dtype` bytes. */
export function encodeFromF32(data: Float32Array, dtype: WeightDType): Buffer {
  if (dtype === 'f32') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const conv = dtype === 'f16' ? f32BitsToF16 : f32BitsToBf16;
  for (let i = 0; i < bits.length; i++) out[i] = conv(bits[i]);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
