// Byte-level mutations: what a damaged download, a truncated copy or a hostile file looks like on disk. Used on
// whole files and on top of the structure-aware mutations (mutate-json.ts, formats.ts).
import type { Rng } from './rng.js';

/** Byte sequences that are not UTF-8: overlong, surrogate, truncated, stray continuation, 0xFF. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]), Buffer.from([0x80]), Buffer.from([0xff, 0xfe]), Buffer.from([0xf4, 0x90, 0x80, 0x80]),
];

/** 64-bit little-endian values at the edges: zero, one, 2^31, 2^32, 2^53, 2^63, 2^64 - 1. */
export const EXTREME_U64: readonly bigint[] = [
  0n, 1n, 7n, 40n, 4095n, 4096n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 2n ** 53n, 2n ** 53n + 1n,
  2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n,
];

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x2c, 0x5b, 0x7b, 0x7d, 0x5d, 0x3a];

export function writeU64(buf: Buffer, at: number, v: bigint): void {
  if (at >= 0 && at + 8 <= buf.length) buf.writeBigUInt64LE(BigInt.asUintN(64, v), at);
}

/** One random byte-level mutation of `input` (never in place). `others` are splice partners. */
export function mutateBytes(rng: Rng, input: Buffer, others: readonly Buffer[] = []): Buffer {
  const n = input.length;
  const at = rng.int(n + 1);
  switch (rng.int(11)) {
    case 0: {  // flip bits
      const out = Buffer.from(input);
      for (let k = rng.count(8); k > 0 && n > 0; k--) out[rng.int(n)] ^= 1 << rng.int(8);
      return out;
    }
    case 1: {  // set bytes to interesting values
      const out = Buffer.from(input);
      for (let k = rng.count(4); k > 0 && n > 0; k--) out[rng.int(n)] = rng.pick(INTERESTING_BYTES);
      return out;
    }
    case 2:  // truncate
      return input.subarray(0, rng.chance(0.5) ? at : rng.int(Math.min(n, 256) + 1));
    case 3: {  // delete a range
      const len = rng.count(Math.max(1, n - at));
      return Buffer.concat([input.subarray(0, at), input.subarray(Math.min(n, at + len))]);
    }
    case 4:  // insert random bytes
      return Buffer.concat([input.subarray(0, at), rng.bytes(rng.count(64)), input.subarray(at)]);
    case 5: {  // duplicate a range of itself
      const from = rng.int(n + 1);
      const piece = input.subarray(from, from + rng.count(Math.max(1, n - from)));
      return Buffer.concat([input.subarray(0, at), piece, input.subarray(at)]);
    }
    case 6: {  // splice with another corpus file
      if (others.length === 0) return mutateBytes(rng, input);
      const o = rng.pick(others);
      const from = rng.int(o.length + 1);
      return Buffer.concat([input.subarray(0, at), o.subarray(from)]);
    }
    case 7: {  // an extreme 64-bit value at a random (often aligned) offset
      const out = Buffer.from(input);
      const pos = rng.chance(0.5) ? (at & ~7) : at;
      writeU64(out, pos, rng.pick(EXTREME_U64));
      return out;
    }
    case 8:  // invalid UTF-8
      return Buffer.concat([input.subarray(0, at), rng.pick(INVALID_UTF8), input.subarray(at)]);
    case 9: {  // a long run of one byte (huge strings, numbers with thousands of digits)
      const run = Buffer.alloc(rng.pick([100, 1000, 10000, 100000]), rng.pick([0x30, 0x39, 0x61, 0x5b, 0x7b, 0x20, 0x00]));
      return Buffer.concat([input.subarray(0, at), run, input.subarray(at)]);
    }
    default:  // extend with zeros (a file that grew)
      return Buffer.concat([input, Buffer.alloc(rng.count(8192))]);
  }
}
