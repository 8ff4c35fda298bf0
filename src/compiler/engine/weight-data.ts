// Computes a weight's bytes from its source expression (ir/weight-source.ts), a block of rows at a time, so the
// engine writer streams the model: at most a few blocks of CHUNK_ELEMS floats are in memory at once, whatever
// the model size. A plain tensor already in the target dtype is copied byte for byte.
import { fail } from '../../errors.js';
import { numel, type Weight } from '../ir/graph.js';
import { formatSource, sourceShape, type QuantPart, type WeightSource } from '../ir/weight-source.js';
import { packedPartRows } from '../quant/packed-decode.js';
import { quantizeRows } from '../quant/rtn.js';
import { CHECKPOINT_DTYPE_BYTES, type TensorInfo, type TensorReader } from '../hf/safetensors.js';
import { decodeToF32, encodeFromF32 } from './convert.js';

const CHUNK_ELEMS = 4 * 1024 * 1024; // 16 MB of f32 per block (tests pass a tiny one to exercise the block edges)
const SAME_DTYPE = { F32: 'f32', F16: 'f16', BF16: 'bf16' } as const;
/**
 * Bytes per block of a weight copied byte for byte: the size of a slot of the engine writer's hashing ring
 * (digest-worker.ts), so each block is read straight into a slot. Smaller blocks cost more syscalls, larger ones
 * more cache misses (docs/perf.md, "Build throughput").
 */
export const COPY_BLOCK_BYTES = 4 << 20;

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

  /** Calls `emit` with the weight's bytes in `w.dtype`, in order, block by block; `emit` must not keep them (they may be a reused buffer). */
  stream(w: Weight, emit: (bytes: Buffer) => void): void {
    const shape = this.shape(w.source);
    if (shape.join(',') !== w.shape.join(',')) {
      throw new Error(`weight @${w.name}: source gives shape [${shape}], the graph says [${w.shape}]`);
    }
    const rowCount = shape[0];
    const rowElems = numel(shape.slice(1));
    const rowsPerChunk = Math.max(1, Math.floor(this.chunkElems / rowElems));
    const src = w.source;
    if (src.op === 'packed' && src.part === 'perm') {   // a [in] vector read whole
      emit(encodeFromF32(this.rows(src, 0, rowCount), w.dtype));
      return;
    }
    if (this.copyable(src, w.dtype)) {
      // Tensors already in the target dtype, row ranges of them and concatenations of those (fused q/k/v,
      // gate/up): their bytes in order, no conversion.
      const rowBytes = rowElems * (w.dtype === 'f32' ? 4 : 2);
      this.copyRows(src, 0, rowCount, Math.max(1, Math.min(rowsPerChunk, Math.floor(COPY_BLOCK_BYTES / rowBytes))), emit);
      return;
    }
    for (let r = 0; r < rowCount; r += rowsPerChunk) {
      emit(encodeFromF32(this.rows(src, r, Math.min(rowCount, r + rowsPerChunk)), w.dtype, rowElems));
    }
  }

  /** Part `part` of pre-quantized weights `src` (virtual tensors under tensor/rows/concat), rows [r0, r1). */
  private packedRows(part: QuantPart | 'perm', src: WeightSource, r0: number, r1: number): Float32Array {
    switch (src.op) {
      case 'tensor': {
        const p = this.tensors.get(src.name)?.packed;
        if (!p) throw new Error(`packed(): ${src.name} is not a pre-quantized weight`);
        return packedPartRows(p, part, r0, r1, this.reader);
      }
      case 'rows':
        if (part === 'perm') break;
        return this.packedRows(part, src.src, src.start + r0, src.start + r1);
      case 'concat': {
        if (part === 'perm') break;
        const chunks: Float32Array[] = [];
        let base = 0;
        for (const x of src.srcs) {
          const n = this.shape(x)[0];
          const [a, b] = [Math.max(r0, base), Math.min(r1, base + n)];
          if (a < b) chunks.push(this.packedRows(part, x, a - base, b - base));
          base += n;
        }
        const out = new Float32Array(chunks.reduce((t, c) => t + c.length, 0));
        let at = 0;
        for (const c of chunks) { out.set(c, at); at += c.length; }
        return out;
      }
      default: break;
    }
    return fail('UNSUPPORTED', `pre-quantized weights through ${formatSource(src)} (part ${part}) are not supported`, 'build this model from a float checkpoint');
  }

  /**
   * The checkpoint tensors whose bytes, one after another, are the weight's bytes as stream() emits them (a
   * tensor already in the weight's dtype, or a concatenation of such: fused q/k/v, gate/up); null when some
   * bytes are converted or only part of a tensor is used. Each such tensor is a segment of the engine file's
   * digest whose sha256 is that of the tensor's span of the checkpoint file (segment-digest.ts).
   */
  wholeTensors(w: Weight): TensorInfo[] | null {
    const src = w.source;
    try {
      if (!this.copyable(src, w.dtype) || (src.op === 'packed' && src.part === 'perm')) return null;
    } catch {
      return null;       // a tensor missing from the checkpoint: stream() says so, in its words
    }
    const out: TensorInfo[] = [];
    const walk = (s: WeightSource): boolean => {
      if (s.op === 'tensor') return out.push(this.tensors.get(s.name)!) > 0;
      if (s.op === 'concat') return s.srcs.every(walk);
      return false;
    };
    return walk(src) ? out : null;
  }

  /** True when the expression's bytes are checkpoint bytes in `dtype`, in row order (no arithmetic). */
  private copyable(s: WeightSource, dtype: string): boolean {
    if (s.op === 'tensor') {
      const t = this.tensors.get(s.name)!;
      return !t.packed && (SAME_DTYPE as Record<string, string>)[t.dtype] === dtype;
    }
    if (s.op === 'rows') return this.copyable(s.src, dtype);
    if (s.op === 'concat') return s.srcs.every((p) => this.copyable(p, dtype));
    return false;
  }

  /**
   * Emits the bytes of rows [r0, r1) of a copyable expression, at most `chunkRows` rows of a tensor at a time. The
   * bytes live in the reader's shared buffer: `emit` must consume them before it returns (the writer does).
   */
  private copyRows(s: WeightSource, r0: number, r1: number, chunkRows: number, emit: (bytes: Buffer) => void): void {
    if (s.op === 'tensor') {
      const t = this.tensors.get(s.name)!;
      const rowBytes = numel(t.shape.slice(1)) * CHECKPOINT_DTYPE_BYTES[t.dtype];
      for (let r = r0; r < r1; r += chunkRows) {
        const n = Math.min(chunkRows, r1 - r);
        emit(this.reader.readShared(t, r * rowBytes, n * rowBytes));
      }
    } else if (s.op === 'rows') {
      this.copyRows(s.src, s.start + r0, s.start + r1, chunkRows, emit);
    } else if (s.op === 'concat') {
      let base = 0;
      for (const part of s.srcs) {
        const n = this.shape(part)[0];
        const [a, b] = [Math.max(r0, base), Math.min(r1, base + n)];
        if (a < b) this.copyRows(part, a - base, b - base, chunkRows, emit);
        base += n;
      }
    }
  }

  /** Rows [r0, r1) of the expression as f32, row-major. */
  rows(s: WeightSource, r0: number, r1: number): Float32Array {
    switch (s.op) {
      case 'tensor': {
        const t = this.tensors.get(s.name)!;
        if (t.packed) throw new Error(`${s.name} is a pre-quantized weight: only linear_q reads it (through packed())`);
        const rowBytes = numel(t.shape.slice(1)) * CHECKPOINT_DTYPE_BYTES[t.dtype];
        return decodeToF32(this.reader.read(t, r0 * rowBytes, (r1 - r0) * rowBytes), t.dtype);
      }
      case 'const':
        return Float32Array.from(s.values.slice(r0, r1));
      case 'dummy':
        throw new Error('a dummy weight has no bytes: the engine writer stores its settings instead (plan "dummy")');
      case 'rows':
        return this.rows(s.src, s.start + r0, s.start + r1);
      case 'quantize': {
        const inF = this.shape(s.src)[1];
        const q = quantizeRows(this.rows(s.src, r0, r1), inF, s.scheme);
        if (s.part === 'offsets' && !q.offsets) throw new Error(`${formatSource(s)}: the scheme has no offsets`);
        return s.part === 'codes' ? q.codes : s.part === 'scales' ? q.scales : q.offsets!;
      }
      case 'packed':
        return this.packedRows(s.part, s.src, r0, r1);
      case 'scale_cols': {
        const out = this.rows(s.src, r0, r1);                  // [r1 - r0, cols]
        const cols = s.values.length;
        for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i] * s.values[i % cols]);
        return out;
      }
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
