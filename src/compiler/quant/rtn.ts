// Round-to-nearest weight quantization (llmc build --quantize), one output row at a time, in llmc's linear_q
// layout (W = scale * code + offset per group of G input columns):
//   int8  symmetric:  scale = max|w| / 127, code = clamp(round(w / scale), -127, 127)          (i8, no offsets)
//   int4  asymmetric: [lo, hi] = [min(w, 0), max(w, 0)], scale = (hi - lo) / 15,
//                     zero = clamp(round(-lo / scale), 0, 15), code = clamp(round(w / scale) + zero, 0, 15),
//                     offset = -scale * zero                                                   (u4)
//   int4  symmetric:  scale = max|w| / 7, code = clamp(round(w / scale), -7, 7) + 8, offset = -8 * scale
//   fp8   (E4M3):     scale = max|w| / 448, code = the fp8 number nearest to w / scale         (no offsets)
// A group of zeros gets scale 1. Rounding is half away from zero (Math.round on |x|), as GPTQ's RTN baseline.
import type { QuantScheme } from '../ir/weight-source.js';
import { f32ToFp8e4m3, fp8e4m3ToF32, FP8_E4M3_MAX } from './fp8.js';

export interface QuantizedRows {
  codes: Float32Array;      // [n, in] code values (exact integers / fp8 numbers)
  scales: Float32Array;     // [n, in / G]
  offsets: Float32Array | null;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Whether a scheme stores offsets (the linear_q `offsets` input). */
export function schemeHasOffsets(s: QuantScheme): boolean {
  return s.kind === 'int4';
}

export function codeDType(s: QuantScheme): 'i8' | 'u4' | 'f8e4m3' {
  return s.kind === 'int8' ? 'i8' : s.kind === 'int4' ? 'u4' : 'f8e4m3';
}

/** Quantizes w [n, in] (row-major f32). */
export function quantizeRows(w: Float32Array, inF: number, s: QuantScheme): QuantizedRows {
  const n = w.length / inF;
  const g = s.groupSize;
  const ng = inF / g;
  const codes = new Float32Array(w.length);
  const scales = new Float32Array(n * ng);
  const offsets = schemeHasOffsets(s) ? new Float32Array(n * ng) : null;
  // The code loops are written once per scheme (no switch per element): this loop is most of a quantized build.
  const encode = s.kind === 'int8' ? encodeInt8 : s.kind === 'fp8' ? encodeFp8 : s.symmetric ? encodeInt4Sym : encodeInt4Asym;
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < ng; k++) {
      const base = r * inF + k * g;
      let lo = 0, hi = 0;
      for (let i = base; i < base + g; i++) {
        const v = w[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const amax = Math.max(-lo, hi);
      let scale: number, zero = 0;
      switch (s.kind) {
        case 'int8': scale = amax / 127; break;
        case 'fp8': scale = amax / FP8_E4M3_MAX; break;
        case 'int4': scale = s.symmetric ? amax / 7 : (hi - lo) / 15; break;
      }
      scale = Math.fround(scale);
      if (!(scale > 0) || !Number.isFinite(scale)) scale = 1;
      if (s.kind === 'int4') zero = s.symmetric ? 8 : clamp(Math.round(-lo / scale), 0, 15);
      scales[r * ng + k] = scale;
      if (offsets) offsets[r * ng + k] = Math.fround(-scale * zero);
      encode(w, codes, base, base + g, scale, zero);
    }
  }
  return { codes, scales, offsets };
}

// codes[i] for w[i], i in [from, to): w / scale rounded half away from zero (Math.round on |x|), then clamped.
function encodeInt8(w: Float32Array, codes: Float32Array, from: number, to: number, scale: number): void {
  for (let i = from; i < to; i++) {
    const x = w[i] / scale;
    const c = x >= 0 ? Math.round(x) : -Math.round(-x);
    codes[i] = c > 127 ? 127 : c < -127 ? -127 : c;
  }
}

function encodeInt4Sym(w: Float32Array, codes: Float32Array, from: number, to: number, scale: number): void {
  for (let i = from; i < to; i++) {
    const x = w[i] / scale;
    const c = x >= 0 ? Math.round(x) : -Math.round(-x);
    codes[i] = (c > 7 ? 7 : c < -7 ? -7 : c) + 8;
  }
}

function encodeInt4Asym(w: Float32Array, codes: Float32Array, from: number, to: number, scale: number, zero: number): void {
  for (let i = from; i < to; i++) {
    const x = w[i] / scale;
    const c = (x >= 0 ? Math.round(x) : -Math.round(-x)) + zero;
    codes[i] = c > 15 ? 15 : c < 0 ? 0 : c;
  }
}

function encodeFp8(w: Float32Array, codes: Float32Array, from: number, to: number, scale: number): void {
  for (let i = from; i < to; i++) codes[i] = fp8e4m3ToF32(f32ToFp8e4m3(w[i] / scale));
}

/** W = scale * code + offset, as the kernels compute it (for tests and the accuracy report). */
export function dequantizeRows(q: QuantizedRows, inF: number, g: number): Float32Array {
  const out = new Float32Array(q.codes.length);
  const ng = inF / g;
  for (let i = 0; i < out.length; i++) {
    const r = Math.floor(i / inF), k = Math.floor((i % inF) / g);
    out[i] = Math.fround(Math.fround(q.scales[r * ng + k] * q.codes[i]) + (q.offsets ? q.offsets[r * ng + k] : 0));
  }
  return out;
}
