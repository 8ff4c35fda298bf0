// Computes a weight's bytes from its source expression (ir/weight-source.ts), a block of rows at a time, so the
// engine writer streams the model: at most a few blocks of CHUNK_ELEMS floats are in memory at once, whatever
// the model size. A plain tensor already in the target dtype is copied byte for byte.
import { fail } from '../../errors.js';
import { numel, type Weight } from '../ir/graph.js';
import { sourceShape, type WeightSource } from '../ir/weight-source.js';
import { CHECKPOINT_DTYPE_BYTES, type TensorInfo, type TensorReader } from '../hf/safetensors.js';
import { decodeToF32, encodeFromF32 } from './convert.js';

const CHUNK_ELEMS = 4 * 1024 * 1024; // 16 MB of f32 per block (tests pass a tiny one to exercise the block edges)
const SAME_DTYPE = { F32: 'f32', F16: 'f16', BF16: 'bf16' } as const;

export class WeightData {
  constructor(
    private readonly tensors: ReadonlyMap<string, TensorInfo>,
    private readonly reader: TensorReader,
    private readonly chunkElems = CHUNK_ELEMS,
  ) {}

  shape(src: WeightSource): number[] {
    return sourceShape(src, (name) => {
      const t = this.tensors.get(name);
      if (!t) fail('BAD_CHECKPOINT', `tensor ${name} is missing from the checkpoint`);
      return t.shape;
    });
  }

  /** Calls `emit` with the weight's bytes in `w.dtype`, in order, block by block. */
  stream(w: Weight, emit: (bytes: Buffer) => void): void {
    const shape = this.shape(w.source);
    if (shape.join(',') !== w.shape.join(',')) {
      throw new Error(`weight @${w.name}: source gives shape [${shape}], the graph says [${w.shape}]`);
    }
    const rowCount = shape[0];
    const rowElems = numel(shape.slice(1));
    const rowsPerChunk = Math.max(1, Math.floor(this.chunkElems / rowElems));
    const src = w.source;
    if (src.op === 'tensor') {
      const t = this.tensors.get(src.name)!;
      if (SAME_DTYPE[t.dtype] === w.dtype) {
        const rowBytes = rowElems * CHECKPOINT_DTYPE_BYTES[t.dtype];
        for (let r = 0; r < rowCount; r += rowsPerChunk) {
          const n = Math.min(rowsPerChunk, rowCount - r);
          emit(this.reader.read(t, r * rowBytes, n * rowBytes));
        }
        return;
      }
    }
    for (let r = 0; r < rowCount; r += rowsPerChunk) {
      emit(encodeFromF32(this.rows(src, r, Math.min(rowCount, r + rowsPerChunk)), w.dtype));
    }
  }

  /** Rows [r0, r1) of the expression as f32, row-major. */
  rows(s: WeightSource, r0: number, r1: number): Float32Array {
    switch (s.op) {
      case 'tensor': {
        const t = this.tensors.get(s.name)!;
        const rowBytes = numel(t.shape.slice(1)) * CHECKPOINT_DTYPE_BYTES[t.dtype];
        return decodeToF32(this.reader.read(t, r0 * rowBytes, (r1 - r0) * rowBytes), t.dtype);
      }
      case 'const':
        return Float32Array.from(s.values.slice(r0, r1));
      case 'dummy':
        throw new Error('a dummy weight has no bytes: the engine writer stores its settings instead (plan "dummy")');
      case 'rows':
        return this.rows(s.src, s.start + r0, s.start + r1);
      case 'concat': {
        const rowElems = numel(this.shape(s).slice(1));
        const out = new Float32Array((r1 - r0) * rowElems);
        let base = 0;                              // first row of the current part in the concatenation
        for (const part of s.srcs) {
          const n = this.shape(part)[0];
          const [a, b] = [Math.max(r0, base), Math.min(r1, base + n)];
          if (a < b) out.set(this.rows(part, a - base, b - base), (a - r0) * rowElems);
          base += n;
        }
        return out;
      }
      case 'transpose': {
        // Output rows r0..r1 are source columns r0..r1; read the source a block of rows at a time.
        const [a, b] = this.shape(s.src);          // source [a, b] -> result [b, a]
        const out = new Float32Array((r1 - r0) * a);
        const block = Math.max(1, Math.floor(this.chunkElems / b));
        for (let i0 = 0; i0 < a; i0 += block) {
          const i1 = Math.min(a, i0 + block);
          const src = this.rows(s.src, i0, i1);    // [i1 - i0, b]
          for (let i = i0; i < i1; i++) {
            const srow = (i - i0) * b;
            for (let c = r0; c < r1; c++) out[(c - r0) * a + i] = src[srow + c];
          }
        }
        return out;
      }
    }
  }
}
