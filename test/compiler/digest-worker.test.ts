// The engine file's segment digests as it is written (src/compiler/engine/digest-worker.ts): fed through a ring of
// tiny slots (so the main thread waits for free slots and every block edge is crossed), with blocks read into
// lent slots, blocks copied in, gaps of zeros and the zeros after the last write; each segment's digest must
// equal the sha256 of its bytes of the file, on the worker and inline alike.
import { createHash, randomBytes } from 'node:crypto';
import { InlineDigest, SegmentedDigest, WorkerDigest, type SegmentSink } from '../../src/compiler/engine/digest-worker.js';
import type { Span } from '../../src/compiler/engine/segment-digest.js';

/** Writes `pieces` at their positions into a file image of `size` bytes (zeros elsewhere). */
function image(pieces: [Buffer, number][], size: number): Buffer {
  const f = Buffer.alloc(size);
  for (const [b, at] of pieces) b.copy(f, at);
  return f;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Segments cutting [0, size) every `every` bytes (and at `size`). */
function every(size: number, step: number): Span[] {
  const out: Span[] = [];
  for (let at = 0; at < size; at += step) out.push({ offset: at, bytes: Math.min(step, size - at) });
  return out;
}

test('lent and copied blocks, gaps and trailing zeros: each segment\'s digest is its bytes\' sha256, worker or inline', () => {
  const pieces: [Buffer, number][] = [];
  let pos = 0;
  for (let i = 0; i < 40; i++) {
    pos += i % 3 === 0 ? 7 : 0;                           // a gap of zeros before every third block
    const n = [1, 13, 64, 0, 200, 63][i % 6];             // 200: larger than a slot, copied in 4 pieces
    pieces.push([randomBytes(n), pos]);
    pos += n;
  }
  const size = pos + 1000;
  const file = image(pieces, size);
  const segs = every(size, 97);                           // cuts inside blocks, inside gaps and between them
  const skip = segs.map((_, i) => i % 5 === 3);           // some segments are known: not hashed
  const run = (sink: SegmentSink, lend?: (n: number) => Buffer | null) => {
    const d = new SegmentedDigest(segs, skip, sink);
    pieces.forEach(([b, at], i) => {
      const lent = i % 2 === 0 && lend ? lend(b.length) : null;   // even blocks are "read" straight into a slot
      const bytes = lent ?? Buffer.from(b);
      b.copy(bytes);
      expect(d.update(bytes, at)).toBe(true);
    });
    return d.finish(size);
  };
  const w = WorkerDigest.start(segs.length, 2, 64)!;
  expect(w).not.toBeNull();
  const got = run(w, (n) => w.lend(n));
  const inline = run(new InlineDigest());
  segs.forEach((s, i) => {
    const want = skip[i] ? undefined : sha(file.subarray(s.offset, s.offset + s.bytes));
    if (want !== undefined) expect(got![i]).toBe(want);
    expect(inline![i]).toBe(want);
  });
  expect(w.cpu === null || w.cpu.user >= 0).toBe(true);
});

test('one segment over the whole file is the file\'s sha256; a lent slot not used for the next write is abandoned', () => {
  const w = WorkerDigest.start(1, 3, 16)!;
  const d = new SegmentedDigest([{ offset: 0, bytes: 32 }], [false], w);
  const a = Buffer.from('header bytes');
  w.lend(8)!.fill(0xff);                                  // lent, then something else is written instead
  d.update(a, 0);
  const b = w.lend(5)!;
  b.write('tail!');
  d.update(b, 20);
  expect(d.finish(32)).toEqual([sha(image([[a, 0], [Buffer.from('tail!'), 20]], 32))]);
});

test('a write before the end of what was hashed is refused (the writer then hashes the file); abort stops the worker', () => {
  const w = WorkerDigest.start(1, 2, 16)!;
  const d = new SegmentedDigest([{ offset: 0, bytes: 100 }], [false], w);
  expect(d.update(Buffer.from('abcdef'), 10)).toBe(true);
  expect(d.update(Buffer.from('x'), 12)).toBe(false);
  w.abort();
  expect(w.lend(100)).toBeNull();                         // larger than a slot: the reader uses its own buffer
  expect(w.finish()).toBeNull();
});

test('hashes(): whether the next write lands in a segment that is hashed', () => {
  const d = new SegmentedDigest([{ offset: 0, bytes: 10 }, { offset: 10, bytes: 10 }, { offset: 20, bytes: 5 }], [false, true, false], new InlineDigest());
  expect([0, 9, 10, 19, 20, 25].map((p) => d.hashes(p))).toEqual([true, true, false, false, true, false]);
});
