// FP8 E4M3FN (OCP; PyTorch float8_e4m3fn): 1 sign, 4 exponent bits (bias 7), 3 mantissa bits, subnormals, no
// infinities, 0x7f / 0xff NaN, largest finite 448. The same definition as native/cpu/dtype.h fp8e4m3_to_f32.
export const FP8_E4M3_MAX = 448;

const TABLE = new Float32Array(256);
for (let b = 0; b < 256; b++) {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 3) & 0xf;
  const mant = b & 7;
  TABLE[b] = exp === 15 && mant === 7 ? NaN : exp === 0 ? sign * mant * 2 ** -9 : sign * (1 + mant / 8) * 2 ** (exp - 7);
}

export function fp8e4m3ToF32(b: number): number {
  return TABLE[b & 0xff];
}

/** The fp8 code nearest to v (ties to an even code), saturating at +-448; NaN -> 0x7f. */
export function f32ToFp8e4m3(v: number): number {
  if (Number.isNaN(v)) return 0x7f;
  const sign = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(v), FP8_E4M3_MAX);
  // Positive finite codes 0x00..0x7e are increasing in value: binary search the last one <= a.
  let lo = 0, hi = 0x7e;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (TABLE[mid] <= a) lo = mid; else hi = mid - 1;
  }
  let code = lo;
  if (code < 0x7e) {
    const below = TABLE[code], above = TABLE[code + 1];
    if (a - below > above - a || (a - below === above - a && (code & 1) === 1)) code++;
  }
  return sign | code;
}
