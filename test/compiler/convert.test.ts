// f32 <-> f16 / bf16 conversions: exact widening, round-to-nearest-even narrowing, specials.
import { bf16ToF32, decodeToF32, encodeFromF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/compiler/engine/convert.js';

describe('f16', () => {
  test('every half value survives f16 -> f32 -> f16 unchanged (NaNs stay NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const f = f16ToF32(h);
      if (Number.isNaN(f)) expect(Number.isNaN(f16ToF32(f32ToF16(f)))).toBe(true);
      else expect(f32ToF16(f)).toBe(h);
    }
  });

  test('widening is exact: known values', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);                       // smallest subnormal
    expect(f16ToF32(0x0400)).toBe(2 ** -14);                       // smallest normal
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
  });

  test('narrowing rounds to nearest, ties to even', () => {
    const ulp = 2 ** -10;                                          // at 1.0
    expect(f32ToF16(1 + ulp / 2)).toBe(0x3c00);                    // tie -> even (1.0)
    expect(f32ToF16(1 + ulp * 1.5)).toBe(0x3c02);                  // tie -> even (1 + 2ulp)
    expect(f32ToF16(1 + ulp / 2 + 2 ** -20)).toBe(0x3c01);         // above the tie -> up
    expect(f32ToF16(65504 + 16)).toBe(0x7c00);                     // tie at the top rounds to even = inf
    expect(f32ToF16(65504 + 15)).toBe(0x7bff);
    expect(f32ToF16(1e9)).toBe(0x7c00);
    expect(f32ToF16(-1e9)).toBe(0xfc00);
    expect(f32ToF16(2 ** -25)).toBe(0);                            // half the smallest subnormal: tie -> 0
    expect(f32ToF16(Math.fround(2 ** -25 * 1.0001))).toBe(1);
    expect(f32ToF16(3 * 2 ** -25)).toBe(2);                        // 1.5 subnormal ulps: tie -> even (2)
    expect(f32ToF16(2 ** -14 - 2 ** -25)).toBe(0x0400);            // rounds up into the normal range
    expect(f32ToF16(1e-10)).toBe(0);
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
  });

  test('narrowing matches a float64 reference on random values', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rnd() - 0.5) * 2 ** Math.floor(rnd() * 40 - 28));
      const h = f32ToF16(x);
      const y = f16ToF32(h);
      // No other half is closer; on a tie the chosen one is even.
      for (const n of [h - 1, h + 1]) {
        if (n < 0 || (n & 0x7fff) >= 0x7c00 || ((n ^ h) & 0x8000)) continue;
        const d0 = Math.abs(x - y), d1 = Math.abs(x - f16ToF32(n));
        expect(d0 < d1 || (d0 === d1 && (h & 1) === 0)).toBe(true);
      }
    }
  });
});

describe('bf16', () => {
  test('every bf16 value survives bf16 -> f32 -> bf16 unchanged', () => {
    for (let b = 0; b < 65536; b++) {
      const f = bf16ToF32(b);
      if (Number.isNaN(f)) expect(Number.isNaN(bf16ToF32(f32ToBf16(f)))).toBe(true);
      else expect(f32ToBf16(f)).toBe(b);
    }
  });

  test('narrowing rounds to nearest, ties to even', () => {
    const ulp = 2 ** -7;
    expect(f32ToBf16(1 + ulp / 2)).toBe(0x3f80);                   // tie -> even
    expect(f32ToBf16(1 + ulp * 1.5)).toBe(0x3f82);                 // tie -> even
    expect(f32ToBf16(Math.fround(1 + ulp / 2 + 2 ** -20))).toBe(0x3f81);
    expect(f32ToBf16(3.4028234663852886e38)).toBe(0x7f80);         // f32 max rounds to inf
    expect(f32ToBf16(-Infinity)).toBe(0xff80);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
  });
});

describe('buffer conversions', () => {
  test('decode and encode whole buffers, also unaligned ones', () => {
    const values = Float32Array.from([1, -2.5, 0.1, 65504, 1e-6]);
    for (const dt of ['f16', 'bf16', 'f32'] as const) {
      const enc = encodeFromF32(values, dt);
      const shifted = Buffer.concat([Buffer.alloc(1), enc]).subarray(1);   // byteOffset 1
      expect(Array.from(decodeToF32(shifted, dt))).toEqual(Array.from(decodeToF32(enc, dt)));
      const back = decodeToF32(enc, dt);
      if (dt === 'f32') expect(Array.from(back)).toEqual(Array.from(values));
      else expect(Array.from(back)).toEqual(Array.from(values).map((v) => (dt === 'f16' ? f16ToF32(f32ToF16(v)) : bf16ToF32(f32ToBf16(v)))));
    }
  });
});
