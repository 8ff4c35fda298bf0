// Hashing the build's input files (the content key) on a worker thread, while the main thread streams the
// weights into the engine (and hashes its output): sha256 is most of a build's CPU time (about 1 GB/s per core
// with SHA-NI), so on two cores the two overlap. `join()` blocks (Atomics.wait) until the worker is done, so the
// synchronous engine writer can take the key when it writes the manifest. The worker's code is plain CommonJS
// given as a string, so it runs the same from dist/ and under ts-jest. If the worker fails, join() hashes on
// the calling thread (which also gives the one-line error for an unreadable file). Inputs smaller than
// INLINE_HASH_BYTES are hashed on the calling thread in join(): starting a worker costs more than hashing them.
// The worker reports its CPU seconds (the build prints them: docs/perf.md, "Build throughput").
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ThreadCpu } from '../engine/thread-cpu.js';
import { WORKER_SILENCE_MS } from '../engine/digest-worker.js';
import { hashInputs, statInputs, type KeyInput } from './build-key.js';

const WORKER = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync, readFileSync } = require('node:fs');
const { paths, shared, cpuAt } = workerData;
const status = new Int32Array(shared, 0, 2);   // [state (0 running, 1 done, 2 failed), heartbeat]
const out = new Uint8Array(shared, 8, 32 * paths.length);
const cpu = new Float64Array(shared, cpuAt, 2);
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
        Atomics.add(status, 1, 1);
      }
    } finally {
      closeSync(fd);
    }
    out.set(h.digest(), i * 32);
  });
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
  /** The inputs with their sha256, waiting for the worker if it is still running. */
  join(): KeyInput[];
  /** Stops the worker (the hashes are not needed: the build is a no-op). */
  cancel(): void;
  /** Seconds join() blocked the caller (hashing not hidden behind the weight streaming). */
  waited: number;
  /** Whether the inputs are hashed on a worker thread; its CPU seconds once join() returned (null: unknown). */
  onWorker: boolean;
  cpu: ThreadCpu | null;
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
  // The engine's hash takes a third thread (main reads and writes, one worker hashes the inputs): with fewer than
  // 3 cores the three only share the same cores: a quiet 2-core machine streamed 0.64-0.71 GB/s either way
  // (docs/perf.md "Build throughput"), so there the main thread hashes the engine file as it writes.
  if (what === 'engine' && availableParallelism() < 3) return Number.POSITIVE_INFINITY;
  return INLINE_HASH_BYTES;
}

export function startHashing(paths: string[]): PendingHashes {
  const stats = statInputs(paths);
  if (stats.reduce((n, s) => n + s.bytes, 0) < workerHashBytes()) {
    let inline: KeyInput[] | null = null;
    return {
      waited: 0,
      onWorker: false,
      cpu: null,
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
  const cpuAt = Math.ceil((8 + 32 * paths.length) / 8) * 8;
  const shared = new SharedArrayBuffer(cpuAt + 16);
  const status = new Int32Array(shared, 0, 2);
  let worker: Worker | null = null;
  try {
    worker = new Worker(WORKER, { eval: true, workerData: { paths, shared, cpuAt } });
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
    onWorker: true,
    cpu: null,
    cancel(): void {
      void worker?.terminate();
    },
    join(): KeyInput[] {
      if (result) return result;
      const t0 = performance.now();
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
      const bytes = new Uint8Array(shared, 8);
      const now = statInputs(paths);
      const unchanged = now.every((s, i) => s.bytes === stats[i].bytes && s.mtime_ms === stats[i].mtime_ms);
      result = Atomics.load(status, 0) === 1 && unchanged
        ? stats.map((s, i) => ({ ...s, sha256: Buffer.from(bytes.subarray(i * 32, i * 32 + 32)).toString('hex') }))
        : hashInputs(paths);
      this.waited = (performance.now() - t0) / 1000;
      const [user, sys] = new Float64Array(shared, cpuAt, 2);
      this.cpu = Atomics.load(status, 0) === 1 && !Number.isNaN(user) ? { user, sys } : null;
      return result;
    },
  };
}
