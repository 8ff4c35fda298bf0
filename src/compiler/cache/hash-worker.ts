// Hashing the build's input files (the content key) on a worker thread, while the main thread streams the
// weights into the engine: sha256 is most of a build's CPU time (about 1 GB/s per core with SHA-NI). Inputs are
// hashed span by span (segment-digest.ts); the spans of the tensors the engine writer copies whole are hashed
// by the engine's digest as it writes them (the same bytes), so start() is told those before the weights stream
// (writer.ts beforeStreaming) and this worker reads only the rest (headers, converted tensors): each byte is
// hashed once. `join()` blocks (Atomics.wait) until the worker is done, so the
// synchronous engine writer can take the key when it writes the manifest. The worker's code is plain CommonJS
// given as a string, so it runs the same from dist/ and under ts-jest. If the worker fails, join() hashes on
// the calling thread (which also gives the one-line error for an unreadable file). Inputs smaller than
// INLINE_HASH_BYTES are hashed on the calling thread in join(): starting a worker costs more than hashing them.
// The worker reports its CPU seconds (the build prints them: docs/perf.md, "Build throughput").
import { Worker } from 'node:worker_threads';
import type { ThreadCpu } from '../engine/thread-cpu.js';
import { WORKER_SILENCE_MS } from '../engine/digest-worker.js';
import { statSync } from 'node:fs';
import { digestSpans, fileSpans, rootDigest, SpanStore, type Span } from '../engine/segment-digest.js';
import { hashInputs, type KeyInput } from './build-key.js';

const WORKER = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync, readFileSync } = require('node:fs');
const { files, shared, cpuAt } = workerData;    // files: [path, [[offset, bytes], ...]]
const status = new Int32Array(shared, 0, 2);   // [state (0 running, 1 done, 2 failed), heartbeat]
const cpu = new Float64Array(shared, cpuAt, 2);
try {
  const out = new Uint8Array(shared, 8, cpuAt - 8);
  const buf = Buffer.allocUnsafe(1 << 22);
  let k = 0;
  for (const [p, spans] of files) {
    const fd = openSync(p, 'r');
    try {
      for (const [offset, bytes] of spans) {
        const h = createHash('sha256');
        for (let done = 0; done < bytes;) {
          const n = readSync(fd, buf, 0, Math.min(buf.length, bytes - done), offset + done);
          if (n === 0) throw new Error('short read');
          h.update(buf.subarray(0, n));
          done += n;
          Atomics.add(status, 1, 1);
        }
        out.set(h.digest(), 32 * k++);
      }
    } finally {
      closeSync(fd);
    }
  }
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    cpu[0] = Number(f[11]) / 100;
    cpu[1] = Number(f[12]) / 100;
  } catch {
    cpu[0] = cpu[1] = NaN;
  }
  Atomics.store(status, 0, 1);
} catch (e) {
  Atomics.store(status, 0, 2);
}
Atomics.notify(status, 0);
`;

export interface PendingHashes {
  /** Hashes (from now, on a worker when large) every input span not in `supplied`: the span keys (SpanStore.key)
   * whose sha256 the engine writer will put in the store. Only the first call counts; join() calls it if needed. */
  start(supplied: Set<string>): void;
  /** The inputs with their root digests, waiting for the worker if it is still running; spans neither hashed
   * nor found in the store are hashed here. */
  join(): KeyInput[];
  /** Stops the worker (the hashes are not needed: the build is a no-op). */
  cancel(): void;
  /** Seconds join() blocked the caller (hashing not hidden behind the weight streaming). */
  waited: number;
  /** Whether the inputs are hashed on a worker thread; its CPU seconds once join() returned (null: unknown). */
  onWorker: boolean;
  cpu: ThreadCpu | null;
  /** Input bytes whose sha256 came from the store (hashed by the engine writer as it copied them), after join(). */
  fromStore: number;
}

/** Below this many input bytes (sha256 of them: ~20-30 ms) a worker's start-up costs more than it hides. */
export const INLINE_HASH_BYTES = 32 * 1024 * 1024;

/**
 * The bytes from which a build hashes on a worker thread: its inputs (here) or its engine file (digest-worker.ts).
 * INLINE_HASH_BYTES, or LLMC_TEST_HASH_WORKER_BYTES for both (tests set 0 to run the worker paths on a small
 * model), or LLMC_TEST_ENGINE_HASH_WORKER_BYTES for the engine file only (scripts/bench-build.mjs
 * --inline-engine-hash sets it very large, to compare with hashing on the main thread).
 */
export function workerHashBytes(what: 'inputs' | 'engine' = 'inputs'): number {
  const env = process.env;
  const v = (what === 'engine' ? env.LLMC_TEST_ENGINE_HASH_WORKER_BYTES : undefined) ?? env.LLMC_TEST_HASH_WORKER_BYTES;
  if (v !== undefined && /^\d+$/.test(v)) return Number(v);
  // Each byte is hashed once (by the engine's digest worker if the writer copies it, else by the inputs' worker),
  // so two cores suffice for both workers next to the main thread's reads and writes (docs/perf.md).
  return INLINE_HASH_BYTES;
}

interface InputFile { file: string; bytes: number; mtime_ms: number; spans: Span[]; keys: string[] }

function describe(paths: string[]): InputFile[] {
  return paths.map((file) => {
    const st = statSync(file);
    const spans = fileSpans(file);
    return { file, bytes: st.size, mtime_ms: Math.floor(st.mtimeMs), spans, keys: spans.map((s) => SpanStore.key(file, s.offset, s.bytes, st)) };
  });
}

export function startHashing(paths: string[], store: SpanStore = new SpanStore()): PendingHashes {
  const inputs = describe(paths);
  let worker: Worker | null = null;
  let shared: SharedArrayBuffer | null = null;
  let cpuAt = 0;
  let todo: { f: number; s: number }[] | null = null;       // the spans the worker hashes, in its order
  let result: KeyInput[] | null = null;

  const pending: PendingHashes = {
    waited: 0,
    onWorker: false,
    cpu: null,
    fromStore: 0,
    start(supplied: Set<string>): void {
      if (todo) return;
      todo = [];
      inputs.forEach((f, fi) => f.keys.forEach((k, si) => {
        if (!supplied.has(k) && store.get(k) === undefined && f.spans[si].bytes > 0) todo!.push({ f: fi, s: si });
      }));
      const bytes = todo.reduce((n, t) => n + inputs[t.f].spans[t.s].bytes, 0);
      if (bytes < workerHashBytes() || bytes === 0) {
        todo = [];                 // hashed in join(), on the calling thread
        return;
      }
      cpuAt = Math.ceil((8 + 32 * todo.length) / 8) * 8;
      shared = new SharedArrayBuffer(cpuAt + 16);
      const status = new Int32Array(shared, 0, 2);
      const byFile = new Map<number, [number, number][]>();
      for (const t of todo) {
        const sp = inputs[t.f].spans[t.s];
        byFile.set(t.f, [...(byFile.get(t.f) ?? []), [sp.offset, sp.bytes]]);
      }
      // The worker visits files in insertion order of byFile, which is the order of `todo`.
      const files = [...byFile].map(([fi, spans]) => [inputs[fi].file, spans]);
      pending.onWorker = true;
      try {
        worker = new Worker(WORKER, { eval: true, workerData: { files, shared, cpuAt } });
        worker.unref();
        worker.on('error', () => {
          Atomics.store(status, 0, 2);
          Atomics.notify(status, 0);
        });
      } catch {
        Atomics.store(status, 0, 2);
      }
    },
    cancel(): void {
      void worker?.terminate();
    },
    join(): KeyInput[] {
      if (result) return result;
      pending.start(new Set());
      const t0 = performance.now();
      const got = new Map<string, string>();       // span key -> sha256 from the worker
      if (shared) {
        const status = new Int32Array(shared, 0, 2);
        // A worker that read nothing for WORKER_SILENCE_MS (one that never started, or died past its catch: the
        // 'error' event cannot run while this thread waits) is given up on, and the inputs hashed here.
        let beat = -1, beatAt = t0;
        while (Atomics.load(status, 0) === 0) {
          const b = Atomics.load(status, 1);
          const now = performance.now();
          if (b !== beat) { beat = b; beatAt = now; } else if (now - beatAt > WORKER_SILENCE_MS) break;
          Atomics.wait(status, 0, 0, 1000);
        }
        void worker?.terminate();
        if (Atomics.load(status, 0) === 1) {
          const out = new Uint8Array(shared, 8, 32 * todo!.length);
          todo!.forEach((t, k) => got.set(inputs[t.f].keys[t.s], Buffer.from(out.subarray(32 * k, 32 * k + 32)).toString('hex')));
          const [user, sys] = new Float64Array(shared, cpuAt, 2);
          pending.cpu = Number.isNaN(user) ? null : { user, sys };
        }
      }
      const now = describe(paths);
      const unchanged = now.every((s, i) => s.keys.join('\n') === inputs[i].keys.join('\n'));
      if (!unchanged) {
        result = hashInputs(paths);              // changed while the build read them: hash what is there now
      } else {
        pending.fromStore = 0;
        result = inputs.map((f) => {
          const shas = f.keys.map((k, i) => {
            const sha = got.get(k) ?? store.get(k);
            if (sha !== undefined && !got.has(k)) pending.fromStore += f.spans[i].bytes;
            return sha;
          });
          const missing = f.spans.filter((_, i) => shas[i] === undefined);
          const hashed = missing.length ? digestSpans(f.file, missing) : [];
          let m = 0;
          const segs = f.spans.map((s, i): [number, number, string] => [s.offset, s.bytes, shas[i] ?? hashed[m++][2]]);
          segs.forEach(([, , sha], i) => store.set(f.keys[i], sha));
          return { file: f.file, bytes: f.bytes, mtime_ms: f.mtime_ms, sha256: rootDigest(segs) };
        });
      }
      pending.waited = (performance.now() - t0) / 1000;
      return result;
    },
  };
  return pending;
}
