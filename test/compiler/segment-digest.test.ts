// Segment digests (src/compiler/engine/segment-digest.ts): the root over segments, the tiling check, a
// safetensors file cut at its header and tensors, and the span store through which the input hashing reuses
// the sha256 the engine writer took of the tensors it copied.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { checkIntegrity, manifestDigest } from '../../src/compiler/engine/integrity.js';
import { join } from 'node:path';
import { cutAt, digestSpans, fileSpans, rootDigest, SpanStore, tiles, type Segment } from '../../src/compiler/engine/segment-digest.js';
import { readSafetensorsHeader } from '../../src/compiler/hf/safetensors.js';
import { hashInputs } from '../../src/compiler/cache/build-key.js';
import { startHashing } from '../../src/compiler/cache/hash-worker.js';
import { loadFixture } from '../helpers/golden.js';
import { tempDir } from '../helpers/cli.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const work = tempDir('llmc-segdig-');
afterAll(() => rmSync(work, { recursive: true, force: true }));
const model = join(work, 'model.safetensors');
beforeAll(() => copyFileSync(join(loadFixture('llama').modelDir, 'model.safetensors'), model));

test('rootDigest: one segment is its sha256; several are hashed as "llmc-segments-1" lines', () => {
  const a: Segment = [0, 3, sha('abc')], b: Segment = [3, 2, sha('de')];
  expect(rootDigest([a])).toBe(sha('abc'));
  expect(rootDigest([a, b])).toBe(sha(`llmc-segments-1\n0 3 ${a[2]}\n3 2 ${b[2]}\n`));
  expect(rootDigest([a, b])).not.toBe(sha('abcde'));
});

test('tiles: segments in order, touching, covering the file exactly', () => {
  const s = sha('');
  expect(tiles([[0, 3, s], [3, 2, s]], 5)).toBeNull();
  expect(tiles([[0, 3, s], [4, 1, s]], 5)).toMatch(/bytes \[3, 4\) are in no segment/);
  expect(tiles([[0, 3, s], [2, 3, s]], 5)).toMatch(/overlaps/);
  expect(tiles([[0, 3, s]], 5)).toMatch(/cover 3 bytes of 5/);
  expect(tiles([[0, 3, 'x']], 3)).toMatch(/malformed/);
  expect(tiles([], 0)).toBeNull();
  expect(cutAt([{ offset: 2, bytes: 3 }], 8)).toEqual([{ offset: 0, bytes: 2, range: -1 }, { offset: 2, bytes: 3, range: 0 }, { offset: 5, bytes: 3, range: -1 }]);
});

test('fileSpans of a real safetensors file: the header, then each tensor\'s data range, tiling the file', () => {
  const spans = fileSpans(model);
  const bytes = readFileSync(model);
  const h = readSafetensorsHeader(model);
  expect(spans[0]).toEqual({ offset: 0, bytes: h.headerBytes.length });
  const tensorSpans = [...h.tensors.values()].filter((t) => t.nbytes > 0).map((t) => ({ offset: t.offset, bytes: t.nbytes })).sort((x, y) => x.offset - y.offset);
  expect(spans.slice(1).filter((s) => tensorSpans.some((t) => t.offset === s.offset))).toEqual(tensorSpans);
  const segs = digestSpans(model, spans);
  expect(tiles(segs, bytes.length)).toBeNull();
  segs.forEach(([o, n, s]) => expect(s).toBe(sha(bytes.subarray(o, o + n))));
  expect(hashInputs([model])[0].sha256).toBe(rootDigest(segs));
  // Any other file is one span: its root digest is its plain sha256.
  const cfg = join(work, 'config.json');
  writeFileSync(cfg, '{"a": 1}');
  expect(fileSpans(cfg)).toEqual([{ offset: 0, bytes: 8 }]);
  expect(hashInputs([cfg])[0].sha256).toBe(sha('{"a": 1}'));
});

test('SpanStore: spans the engine writer hashed are not hashed again, and the key is the same', () => {
  const want = hashInputs([model]);
  const h = readSafetensorsHeader(model);
  const store = new SpanStore();
  const supplied = new Set<string>();
  let tensorBytes = 0;
  for (const t of h.tensors.values()) {
    if (t.nbytes === 0) continue;
    const k = SpanStore.key(model, t.offset, t.nbytes);
    supplied.add(k);
    tensorBytes += t.nbytes;
  }
  for (const workerBytes of ['0', undefined]) {        // the worker path and the inline one
    const prev = process.env.LLMC_TEST_HASH_WORKER_BYTES;
    if (workerBytes === undefined) delete process.env.LLMC_TEST_HASH_WORKER_BYTES;
    else process.env.LLMC_TEST_HASH_WORKER_BYTES = workerBytes;
    try {
      const s = new SpanStore();
      const p = startHashing([model], s);
      p.start(supplied);
      // The writer hashes the copied tensors meanwhile and records them.
      for (const [o, n, d] of digestSpans(model, [...h.tensors.values()].filter((t) => t.nbytes > 0).map((t) => ({ offset: t.offset, bytes: t.nbytes })))) {
        s.set(SpanStore.key(model, o, n), d);
      }
      expect(p.join()).toEqual(want);
      expect(p.fromStore).toBe(tensorBytes);
      expect(p.onWorker).toBe(workerBytes === '0');  // else only the header is left: too small for a worker
    } finally {
      if (prev === undefined) delete process.env.LLMC_TEST_HASH_WORKER_BYTES;
      else process.env.LLMC_TEST_HASH_WORKER_BYTES = prev;
    }
  }
  // A sha256 in the store is trusted as the span's: a wrong one gives another key (so the store is what is used).
  for (const k of supplied) store.set(k, '0'.repeat(64));
  const p = startHashing([model], store);
  p.start(supplied);
  expect(p.join()[0].sha256).not.toBe(want[0].sha256);
  // Keys carry size and mtime: after a touch the old entries do not apply.
  const [k0] = supplied;
  utimesSync(model, new Date(), new Date(Date.now() + 5000));
  const t0 = [...h.tensors.values()].find((t) => t.nbytes > 0)!;
  expect(SpanStore.key(model, t0.offset, t0.nbytes)).not.toBe(k0);
  expect(hashInputs([model])[0].sha256).toBe(want[0].sha256);
});

test('checkIntegrity: whole-file sha256 (older engines) and segments, a changed byte named by its range', () => {
  const dir = join(work, 'engine');
  mkdirSync(dir, { recursive: true });
  const bytes = Buffer.from('0123456789');
  writeFileSync(join(dir, 'a.bin'), bytes);
  writeFileSync(join(dir, 'b.bin'), bytes);
  const segs: Segment[] = [[0, 3, sha(bytes.subarray(0, 3))], [3, 3, sha(bytes.subarray(3, 6))], [6, 4, sha(bytes.subarray(6))]];
  const m: Record<string, unknown> = { format_version: 1 };
  m.integrity = {
    algorithm: 'sha256-segments',
    files: { 'a.bin': { bytes: 10, sha256: sha(bytes) }, 'b.bin': { bytes: 10, sha256: rootDigest(segs), segments: segs } },
  };
  (m.integrity as Record<string, unknown>).manifest_sha256 = manifestDigest(m);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(m, null, 2) + '\n');
  expect(checkIntegrity(dir).problem).toBeNull();
  writeFileSync(join(dir, 'b.bin'), Buffer.from('0123x56789'));
  expect(checkIntegrity(dir).problem).toBe('b.bin has the recorded size but its sha256 differs in bytes [3, 6) (its bytes were changed)');
  writeFileSync(join(dir, 'b.bin'), bytes);
  writeFileSync(join(dir, 'a.bin'), Buffer.from('x123456789'));
  expect(checkIntegrity(dir).problem).toBe('a.bin has the recorded size but its sha256 differs (its bytes were changed)');
});
