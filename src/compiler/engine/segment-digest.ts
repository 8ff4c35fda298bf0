// Segment digests: a file's sha256 taken over segments that tile it, so that a byte range that appears unchanged
// in two files is hashed once for both. A build copies most weights byte for byte from the checkpoint into
// rank0.engine; the engine writer hashes each such tensor as it writes it, and the same sha256 then stands for
// that tensor's span of the input file in the build's content key (src/compiler/cache/), so the input hashing
// does not read it a second time (docs/perf.md, "Build throughput"; docs/verify.md, "Segment digests").
//
// A file digest is a list of segments [offset, bytes, sha256 hex] tiling [0, size); its root digest is the one
// segment's sha256 (then it is the plain sha256 of the file), else sha256 of "llmc-segments-1\n" followed by
// one line "offset bytes sha256\n" per segment.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export type Segment = [offset: number, bytes: number, sha256: string];
/** A byte range [offset, offset + bytes) of a file. */
export interface Span { offset: number; bytes: number }

export const SEGMENTS_TAG = 'llmc-segments-1\n';

export function rootDigest(segments: readonly Segment[]): string {
  if (segments.length === 1) return segments[0][2];
  return createHash('sha256').update(SEGMENTS_TAG + segments.map(([o, n, s]) => `${o} ${n} ${s}\n`).join('')).digest('hex');
}

/** null when the segments tile [0, size) in order (none empty, unless the file is), else what is wrong. */
export function tiles(segments: readonly Segment[], size: number): string | null {
  if (segments.length === 0) return size === 0 ? null : 'no segments';
  let at = 0;
  for (const [o, n, s] of segments) {
    if (!Number.isSafeInteger(o) || !Number.isSafeInteger(n) || typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) return `segment [${o}, +${n}) is malformed`;
    if (o !== at) return o > at ? `bytes [${at}, ${o}) are in no segment` : `segment at ${o} overlaps the one before`;
    if (n <= 0 && size > 0) return `segment at ${o} is empty`;
    at = o + n;
  }
  return at === size ? null : `the segments cover ${at} bytes of ${size}`;
}

/** Cuts [0, size) at the given ranges (sorted, not overlapping, inside the file); the bytes between them become their own spans. */
export function cutAt(ranges: readonly Span[], size: number): (Span & { range: number })[] {
  const out: (Span & { range: number })[] = [];
  let at = 0;
  ranges.forEach((r, i) => {
    if (r.offset > at) out.push({ offset: at, bytes: r.offset - at, range: -1 });
    out.push({ offset: r.offset, bytes: r.bytes, range: i });
    at = r.offset + r.bytes;
  });
  if (at < size || out.length === 0) out.push({ offset: at, bytes: size - at, range: -1 });
  return out;
}

/**
 * The spans a file's digest is taken over: a safetensors file (by name) is cut at its header and at each
 * tensor's data range, the bytes between tensors becoming their own spans; any other file (or a safetensors
 * file whose header does not parse: the build reports that itself) is one span.
 */
export function fileSpans(path: string): Span[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const whole = [{ offset: 0, bytes: size }];
    if (!path.endsWith('.safetensors') || size < 8) return whole;
    const len = Buffer.alloc(8);
    if (readSync(fd, len, 0, 8, 0) !== 8) return whole;
    const n = Number(len.readBigUInt64LE(0));
    if (n > 100 * 1024 * 1024 || 8 + n > size) return whole;
    const head = Buffer.alloc(n);
    if (readSync(fd, head, 0, n, 8) !== n) return whole;
    let json: Record<string, { data_offsets?: unknown }>;
    try {
      json = JSON.parse(head.toString('utf8')) as typeof json;
    } catch {
      return whole;
    }
    const ranges: Span[] = [];
    for (const [name, e] of Object.entries(json ?? {})) {
      const off = name === '__metadata__' || e === null || typeof e !== 'object' ? undefined : e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x) && x >= 0) || off[0] > off[1]) continue;
      if (off[1] > off[0] && 8 + n + off[1] <= size) ranges.push({ offset: 8 + n + off[0], bytes: off[1] - off[0] });
    }
    ranges.sort((a, b) => a.offset - b.offset);
    if (ranges.some((r, i) => i > 0 && r.offset < ranges[i - 1].offset + ranges[i - 1].bytes)) return whole;   // overlapping
    return cutAt([{ offset: 0, bytes: 8 + n }, ...ranges], size).map(({ offset, bytes }) => ({ offset, bytes }));
  } finally {
    closeSync(fd);
  }
}

/** Reads and hashes each span of the file. */
export function digestSpans(path: string, spans: readonly Span[]): Segment[] {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 22);
  try {
    return spans.map(({ offset, bytes }): Segment => {
      const h = createHash('sha256');
      for (let done = 0; done < bytes;) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, bytes - done), offset + done);
        if (n === 0) throw new Error(`${path} ended at byte ${offset + done}, inside the span [${offset}, ${offset + bytes})`);
        h.update(buf.subarray(0, n));
        done += n;
      }
      return [offset, bytes, h.digest('hex')];
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * sha256 of file spans, by whoever hashed a span first (the engine writer as it copies a tensor, or the input
 * hashing), keyed by the file's resolved path, size and mtime and the span: a file changed since has other keys.
 */
export class SpanStore {
  private readonly shas = new Map<string, string>();

  /** The key of span [offset, offset + bytes) of the file as it is now (stat: size and mtime). */
  static key(path: string, offset: number, bytes: number, stat?: { size: number; mtimeMs: number }): string {
    const s = stat ?? statSync(path);
    return `${resolve(path)}\0${s.size}\0${s.mtimeMs}\0${offset}\0${bytes}`;
  }

  get(key: string): string | undefined {
    return this.shas.get(key);
  }

  set(key: string, sha256: string): void {
    this.shas.set(key, sha256);
  }

  get size(): number {
    return this.shas.size;
  }
}
