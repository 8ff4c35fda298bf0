// safetensors reader: validates the header of one file up front, then reads tensor bytes lazily by file offset,
// one tensor (or a window of rows) at a time, so a model is never held whole in the JS heap.
//
// Layout: u64 LE header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end)}, ...,
// "__metadata__": {...}}, then the data section; offsets are relative to its first byte.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { fail, LlmcError } from '../../errors.js';
import { isHfBuffer } from './buffers.js';
import { parseJson } from '../../json-depth.js';

// Float tensors, plus the integer and fp8 tensors of pre-quantized checkpoints (packed codes, zero points,
// g_idx, shapes), which only the quantized-checkpoint import reads (src/compiler/quant/); a float checkpoint
// holding one is refused by openCheckpoint.
export type CheckpointDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'F8_E4M3';
export const CHECKPOINT_DTYPE_BYTES: Record<CheckpointDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, F8_E4M3: 1 };
export const FLOAT_CHECKPOINT_DTYPES: readonly CheckpointDType[] = ['F32', 'F16', 'BF16'];
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  file: string;            // absolute path of the .safetensors file
  dtype: CheckpointDType;
  shape: number[];
  offset: number;          // absolute byte offset of the first element in the file
  nbytes: number;
  /** A pre-quantized linear's weight [out, in] standing for its packed tensors (src/compiler/quant/packed.ts). */
  packed?: import('../quant/packed.js').PackedModule;
}

export interface SafetensorsHeader {
  file: string;
  headerBytes: Buffer;     // the 8-byte length + the JSON, as stored (hashed into the checkpoint id)
  tensors: Map<string, TensorInfo>;
}

/** Reads and validates the header of `file`. Every problem is a BAD_CHECKPOINT / UNSUPPORTED error naming the file. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const name = basename(file);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    return fail('NOT_FOUND', `cannot open ${file}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) fail('BAD_CHECKPOINT', `${file} is not a regular file`, 'point llmc build at a checkpoint whose safetensors files are files');
    const size = st.size;
    if (size < 8) fail('BAD_CHECKPOINT', `${name} is truncated (${size} bytes): a safetensors file starts with an 8-byte header length`, 'download the checkpoint again');
    const lenBuf = Buffer.alloc(8);
    readFully(fd, lenBuf, 0, name);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) {
      fail('BAD_CHECKPOINT', `${name}: header length ${headerLen} is over 100 MB; the file is not safetensors or is corrupt`);
    }
    const n = Number(headerLen);
    if (8 + n > size) fail('BAD_CHECKPOINT', `${name} is truncated: its header needs ${n} bytes but the file has ${size - 8} after the length`, 'download the checkpoint again');
    const headerBytes = Buffer.alloc(8 + n);
    lenBuf.copy(headerBytes, 0);
    readFully(fd, headerBytes.subarray(8), 8, name);
    let json: unknown;
    try {
      json = parseJson(headerBytes.subarray(8).toString('utf8'));
    } catch (e) {
      return fail('BAD_CHECKPOINT', `${name}: the header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('BAD_CHECKPOINT', `${name}: the header is not a JSON object`);
    const tensors = parseEntries(json as Record<string, unknown>, file, 8 + n, size - 8 - n);
    return { file, headerBytes, tensors };
  } finally {
    closeSync(fd);
  }
}

const OTHER_DTYPES = new Set(['F64', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'BOOL', 'F8_E5M2', 'C64']);

function parseEntries(json: Record<string, unknown>, file: string, dataStart: number, dataSize: number): Map<string, TensorInfo> {
  const name = basename(file);
  const tensors = new Map<string, TensorInfo>();
  const spans: { begin: number; end: number; name: string }[] = [];
  for (const [tname, raw] of Object.entries(json)) {
    if (tname === '__metadata__') continue;
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${name}: tensor ${tname}`;
    if (typeof e !== 'object' || e === null) fail('BAD_CHECKPOINT', `${where} has no {dtype, shape, data_offsets} entry`);
    if (typeof e.dtype !== 'string') fail('BAD_CHECKPOINT', `${where} has no dtype`);
    if (!(e.dtype in CHECKPOINT_DTYPE_BYTES) || (!FLOAT_CHECKPOINT_DTYPES.includes(e.dtype as CheckpointDType) && isHfBuffer(tname))) {
      if (OTHER_DTYPES.has(e.dtype) || e.dtype in CHECKPOINT_DTYPE_BYTES) {
        if (isHfBuffer(tname)) continue;   // e.g. a BOOL causal mask `h.0.attn.bias`: HF ignores it, so does llmc
        fail('UNSUPPORTED', `${where} has dtype ${e.dtype}; llmc reads F32, F16 and BF16 checkpoints`, 'convert the checkpoint to float32, float16 or bfloat16');
      }
      fail('BAD_CHECKPOINT', `${where} has unknown dtype ${JSON.stringify(e.dtype)}`);
    }
    const dtype = e.dtype as CheckpointDType;
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      fail('BAD_CHECKPOINT', `${where} has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const shape = e.shape as number[];
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((x) => !Number.isSafeInteger(x) || x < 0) || off[0] > off[1]) {
      fail('BAD_CHECKPOINT', `${where} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataSize) {
      fail('BAD_CHECKPOINT', `${name} is truncated or corrupt: tensor ${tname} ends at byte ${end} of the data section, which has ${dataSize} bytes`,
        'download the checkpoint again');
    }
    const want = shape.reduce((a, b) => a * b, 1) * CHECKPOINT_DTYPE_BYTES[dtype];
    if (end - begin !== want) {
      fail('BAD_CHECKPOINT', `${where}: data_offsets [${begin}, ${end}) hold ${end - begin} bytes but shape [${shape}] x ${dtype} needs ${want}`);
    }
    spans.push({ begin, end, name: tname });
    tensors.set(tname, { name: tname, file, dtype, shape, offset: dataStart + begin, nbytes: want });
  }
  // Empty tensors occupy no bytes; the others must not share any.
  const used = spans.filter((x) => x.end > x.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < used.length; i++) {
    const [p, q] = [used[i - 1], used[i]];
    if (q.begin < p.end) fail('BAD_CHECKPOINT', `${name}: tensors ${p.name} [${p.begin}, ${p.end}) and ${q.name} [${q.begin}, ${q.end}) overlap`);
  }
  return tensors;
}

function readFully(fd: number, buf: Buffer, position: number, name: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) fail('BAD_CHECKPOINT', `${name} is truncated (unexpected end of file)`, 'download the checkpoint again');
    done += n;
  }
}

/**
 * Reads tensor bytes by file offset. Keeps one descriptor per file open until close(). A read that runs past the
 * end of the file (the file shrank after its header was checked) is a BAD_CHECKPOINT error.
 */
export class TensorReader {
  private readonly fds = new Map<string, number>();
  /** Bytes read so far (the build's read throughput). */
  bytesRead = 0;

  // One buffer reused by readShared: a fresh multi-MB Buffer per block costs the kernel a page fault and a zeroed
  // page per 4 KiB on first touch, which was more system time than the copy itself in a 2 GB build.
  private scratch: Buffer = Buffer.alloc(0);
  /**
   * Where readShared reads instead of its own buffer, when it gives one (the engine writer's hashing ring,
   * digest-worker.ts: the block is read straight into the slot the hashing worker reads, never copied).
   */
  bufferFor: ((nbytes: number) => Buffer | null) | null = null;

  /** Bytes [firstByte, firstByte + nbytes) of `t` in storage order, in a new Buffer the caller may keep. */
  read(t: TensorInfo, firstByte = 0, nbytes = t.nbytes): Buffer {
    return this.readInto(t, firstByte, nbytes, Buffer.allocUnsafe(nbytes));
  }

  /** As read(), into a buffer owned by the reader: valid only until the next readShared call. */
  readShared(t: TensorInfo, firstByte: number, nbytes: number): Buffer {
    const lent = this.bufferFor?.(nbytes);
    if (lent) return this.readInto(t, firstByte, nbytes, lent);
    if (this.scratch.length < nbytes) this.scratch = Buffer.allocUnsafe(nbytes);
    return this.readInto(t, firstByte, nbytes, this.scratch.subarray(0, nbytes));
  }

  private readInto(t: TensorInfo, firstByte: number, nbytes: number, buf: Buffer): Buffer {
    if (firstByte < 0 || firstByte + nbytes > t.nbytes) throw new Error(`read outside tensor ${t.name}`);
    let fd = this.fds.get(t.file);
    if (fd === undefined) {
      try {
        fd = openSync(t.file, 'r');
      } catch (e) {
        fail('NOT_FOUND', `cannot open ${t.file}: ${(e as Error).message}`);
      }
      this.fds.set(t.file, fd);
    }
    try {
      readFully(fd, buf, t.offset + firstByte, basename(t.file));
    } catch (e) {
      if (e instanceof LlmcError) throw e;
      fail('BAD_CHECKPOINT', `cannot read tensor ${t.name} from ${basename(t.file)}: ${(e as Error).message}`);
    }
    this.bytesRead += nbytes;
    return buf;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
