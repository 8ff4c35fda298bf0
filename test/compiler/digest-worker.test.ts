// The engine file's sha256 on a worker thread (src/compiler/engine/digest-worker.ts): fed through a ring of tiny
// slots (so the main thread waits for free slots and every block edge is crossed), with blocks read into lent
// slots, blocks copied in, gaps of zeros and the zeros after the last write; it must equal the sha256 of the file.
import { createHash, randomBytes } from 'node:crypto';
import { WorkerDigest } from '../../src/compiler/engine/digest-worker.js';
import { StreamingDigest } from '../../src/compiler/engine/integrity.js';

/** Writes `pieces` at their positions into a file image of `size` bytes (zeros elsewhere). */
function image(pieces: [Buffer, number][], size: number): Buffer {
  const f = Buffer.alloc(size);
  for (const [b, at] of pieces) b.copy(f, at);
  return f;
}

test('lent and copied blocks, gaps and trailing zeros: the digest is the file\'s sha256', () => {
  const d = WorkerDigest.start(2, 64)!;
  expect(d).not.toBeNull();
  const pieces: [Buffer, number][] = [];
  let pos = 0;
  for (let i = 0; i < 40; i++) {
    pos += i % 3 === 0 ? 7 : 0;                           // a gap of zeros before every third block
    const n = [1, 13, 64, 0, 200, 63][i % 6];             // 200: larger than a slot, copied in 4 pieces
    const lent = i % 2 === 0 ? d.lend(n) : null;          // even blocks are "read" straight into a slot
    if (i % 2 === 0 && n <= 64) expect(lent).not.toBeNull();
    const bytes = lent ?? Buffer.alloc(n);
    randomBytes(n).copy(bytes);
    pieces.push([Buffer.from(bytes), pos]);               // a copy: the slot is the worker's once submitted
    expect(d.update(bytes, pos)).toBe(true);
    pos += n;
  }
  const size = pos + 1000;
  const got = d.finish(size);
  const want = createHash('sha256').update(image(pieces, size)).digest('hex');
  expect(got).toEqual({ bytes: size, sha256: want });
  // The same stream through the main-thread digest gives the same answer.
  const s = new StreamingDigest();
  for (const [b, at] of pieces) s.update(b, at);
  expect(s.finish(size).sha256).toBe(want);
});

test('a lent slot not used for the next write is abandoned, not hashed', () => {
  const d = WorkerDigest.start(3, 16)!;
  const a = Buffer.from('header bytes');
  d.lend(8)!.fill(0xff);                                  // lent, then something else is written instead
  d.update(a, 0);
  const b = d.lend(5)!;
  b.write('tail!');
  d.update(b, 20);
  const want = createHash('sha256').update(image([[a, 0], [Buffer.from('tail!'), 20]], 32)).digest('hex');
  expect(d.finish(32)?.sha256).toBe(want);
});

test('a write before the end of what was hashed is refused (the writer then hashes the file); abort stops the worker', () => {
  const d = WorkerDigest.start(2, 16)!;
  expect(d.update(Buffer.from('abcdef'), 10)).toBe(true);
  expect(d.update(Buffer.from('x'), 12)).toBe(false);
  d.abort();
  expect(d.lend(100)).toBeNull();                         // larger than a slot: the reader uses its own buffer
});
