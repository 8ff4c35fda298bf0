// Hashing the build's input files (the content key) on a worker thread, while the main thread streams the
// weights into the engine (and hashes its output): sha256 is most of a build's CPU time (about 1 GB/s per core
// with SHA-NI), so on two cores the two overlap. `join()` blocks (Atomics.wait) until the worker is done, so the
// synchronous engine writer can take the key when it writes the manifest. The worker's code is plain CommonJS
// given as a string, so it runs the same from dist/ and under ts-jest. If the worker fails, join() hashes on
// the calling thread (which also gives the one-line error for an unreadable file). Inputs smaller than
// INLINE_HASH_BYTES are hashed on the calling thread in join(): starting a worker costs more than hashing them.
import { Worker } from 'node:worker_threads';
import { hashInputs, statInputs, type KeyInput } from './build-key.js';

const WORKER = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { paths, shared } = workerData;
const status = new Int32Array(shared, 0, 1);
const out = new Uint8Array(shared, 4);
try {
  const buf = Buffer.allocUnsafe(1 << 22);
  paths.forEach((p, i) => {
    const h = createHash('sha256');
    const fd = openSync(p, 'r');
    try {
      for (let pos = 0;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
    out.set(h.digest(), i * 32);
  });
  Atomics.store(status, 0, 1);
} catch (e) {
  Atomics.store(status, 0, 2);
}
Atomics.notify(status, 0);
`;

export interface PendingHashes {
  /** The inputs with their sha256, waiting for the worker if it is still running. */
  join(): KeyInput[];
  /** Stops the worker (the hashes are not needed: the build is a no-op). */
  cancel(): void;
  /** Seconds join() blocked the caller (hashing not hidden behind the weight streaming). */
  waited: number;
}

/** Below this many input bytes (sha256 of them: ~20-30 ms) a worker's start-up costs more than it hides. */
export const INLINE_HASH_BYTES = 32 * 1024 * 1024;

export function startHashing(paths: string[]): PendingHashes {
  const stats = statInputs(paths);
  if (stats.reduce((n, s) => n + s.bytes, 0) < INLINE_HASH_BYTES) {
    let inline: KeyInput[] | null = null;
    return {
      waited: 0,
      cancel(): void {},
      join(): KeyInput[] {
        if (inline) return inline;
        const t0 = performance.now();
        inline = hashInputs(paths);
        this.waited = (performance.now() - t0) / 1000;
        return inline;
      },
    };
  }
  const shared = new SharedArrayBuffer(4 + 32 * paths.length);
  const status = new Int32Array(shared, 0, 1);
  let worker: Worker | null = null;
  try {
    worker = new Worker(WORKER, { eval: true, workerData: { paths, shared } });
    worker.unref();
    worker.on('error', () => {
      Atomics.store(status, 0, 2);
      Atomics.notify(status, 0);
    });
  } catch {
    Atomics.store(status, 0, 2);
  }
  let result: KeyInput[] | null = null;
  return {
    waited: 0,
    cancel(): void {
      void worker?.terminate();
    },
    join(): KeyInput[] {
      if (result) return result;
      const t0 = performance.now();
      while (Atomics.load(status, 0) === 0) Atomics.wait(status, 0, 0, 1000);
      void worker?.terminate();
      const bytes = new Uint8Array(shared, 4);
      const now = statInputs(paths);
      const unchanged = now.every((s, i) => s.bytes === stats[i].bytes && s.mtime_ms === stats[i].mtime_ms);
      result = Atomics.load(status, 0) === 1 && unchanged
        ? stats.map((s, i) => ({ ...s, sha256: Buffer.from(bytes.subarray(i * 32, i * 32 + 32)).toString('hex') }))
        : hashInputs(paths);
      this.waited = (performance.now() - t0) / 1000;
      return result;
    },
  };
}
