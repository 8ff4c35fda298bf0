// A stored weight's values as float32, whatever its dtype (f32, f16, bf16): `llmc verify` compares the weights
// of the node it blames with the reference's, `llmc diff` compares two engines tensor by tensor.
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINE_FILE, type PlanWeightValue } from './format.js';

/** IEEE half -> float (subnormals, inf and NaN included). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function decodeWeight(bytes: Buffer, dtype: string): Float32Array {
  const out = new Float32Array(bytes.length / (dtype === 'f32' ? 4 : 2));
  if (dtype === 'f32') {
    out.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
  } else if (dtype === 'f16') {
    for (let i = 0; i < out.length; i++) out[i] = halfToFloat(bytes.readUInt16LE(i * 2));
  } else if (dtype === 'bf16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) u[i] = bytes.readUInt16LE(i * 2) << 16;
  } else {
    throw new Error(`decodeWeight: dtype ${dtype} is not a float dtype`);
  }
  return out;
}

/** Reads weights of one engine file (an open fd per call batch). null for a dummy weight (generated at load). */
export class WeightValues {
  private readonly fd: number;
  constructor(engineDir: string, private readonly dataOffset: number, file: string = ENGINE_FILE) {
    this.fd = openSync(join(engineDir, file), 'r');
  }

  raw(v: PlanWeightValue): Buffer | null {
    if (v.offset === undefined) return null;
    const buf = Buffer.alloc(v.nbytes);
    let done = 0;
    while (done < v.nbytes) {
      const n = readSync(this.fd, buf, done, v.nbytes - done, this.dataOffset + v.offset + done);
      if (n === 0) throw new Error(`${ENGINE_FILE}: weight ${v.name} runs past the end of the file`);
      done += n;
    }
    return buf;
  }

  f32(v: PlanWeightValue): Float32Array | null {
    const b = this.raw(v);
    return b === null ? null : decodeWeight(b, v.dtype);
  }

  close(): void {
    closeSync(this.fd);
  }
}
