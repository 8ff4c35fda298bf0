// sha256 of an engine file on a worker thread, so that the main thread of a build only reads and writes the
// weights (docs/perf.md, "Build throughput"). The main thread reads each block of weights straight into one of
// a few slots of a SharedArrayBuffer (lend(), handed to TensorReader), writes it to the engine file and submits
// the slot; the worker hashes the slots in order and gives each one back. Copied weights are never copied again;
// bytes from elsewhere (the header, converted blocks) are copied into slots first. As with StreamingDigest the
// file is written at increasing positions and a gap is zeros (the padding ftruncate leaves). If the worker fails
// or a write goes backwards, finish() returns null and the caller hashes the finished file instead.
import { Worker } from 'node:worker_threads';
import type { FileDigest } from './integrity.js';
import type { ThreadCpu } from './thread-cpu.js';
import { COPY_BLOCK_BYTES } from './weight-data.js';

// The ring: ctl = [state (0 running, 1 done, 2 failed), entries submitted, entries hashed, heartbeat]; per entry
// [zeros before, bytes (-1: the end)]; the worker's CPU seconds [user, sys]; the digest; then the slots.
const CTL = 0, META = 16, entryMeta = (slots: number) => META + 16 * slots;
const layout = (slots: number) => {
  const cpu = entryMeta(slots), digest = cpu + 16, data = Math.ceil((digest + 32) / 4096) * 4096;
  return { cpu, digest, data };
};

const WORKER = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { shared, slots, slotBytes, at } = workerData;
const ctl = new Int32Array(shared, ${CTL}, 4);
const meta = new Float64Array(shared, ${META}, slots * 2);
const cpu = new Float64Array(shared, at.cpu, 2);
const data = Buffer.from(shared, at.data, slots * slotBytes);
try {
  const h = createHash('sha256');
  const zeros = Buffer.alloc(1 << 16);
  const hashZeros = (n) => {
    for (let left = n; left > 0; left -= zeros.length) h.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  };
  for (let done = 0;; ) {
    const submitted = Atomics.load(ctl, 1);
    Atomics.add(ctl, 3, 1);
    if (done === submitted) { Atomics.wait(ctl, 1, submitted, 1000); continue; }
    const i = done % slots;
    hashZeros(meta[2 * i]);
    const n = meta[2 * i + 1];
    if (n < 0) {
      new Uint8Array(shared, at.digest, 32).set(h.digest());
      break;
    }
    h.update(data.subarray(i * slotBytes, i * slotBytes + n));
    Atomics.store(ctl, 2, ++done);
    Atomics.notify(ctl, 2);
  }
  try {
    const f = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ');
    cpu[0] = Number(f[11]) / 100; cpu[1] = Number(f[12]) / 100;
  } catch { cpu[0] = cpu[1] = NaN; }
  Atomics.store(ctl, 0, 1);
} catch (e) {
  Atomics.store(ctl, 0, 2);
}
Atomics.notify(ctl, 0);
Atomics.notify(ctl, 2);
`;

/** A worker that neither hashed a slot nor beat its heart (at least once a second) for this long is taken for dead:
 * one that never started, or died without reaching its catch. The main thread's waits are synchronous, so the
 * Worker's 'exit' and 'error' events cannot tell it; the build then hashes the finished file itself. */
export const WORKER_SILENCE_MS = 30_000;

/** Slots in the ring and bytes per slot: the main thread can be this many blocks ahead of the hashing. */
export const DIGEST_SLOTS = 4;
export const SLOT_BYTES = COPY_BLOCK_BYTES;

export class WorkerDigest {
  private readonly ctl: Int32Array;
  private readonly meta: Float64Array;
  private readonly data: Buffer;
  private submitted = 0;
  private pos = 0;
  private lent = -1;             // byte offset in `data` of the slot lend() gave out, -1 if none
  private failed = false;
  private lastSign = -1;          // hashed + heartbeat when last seen changing, and when
  private lastSignAt = 0;
  /** The worker thread's CPU seconds, once finish() returned a digest. */
  cpu: ThreadCpu | null = null;

  private constructor(private readonly worker: Worker, private readonly shared: SharedArrayBuffer,
    private readonly slots: number, private readonly slotBytes: number) {
    const at = layout(slots);
    this.ctl = new Int32Array(shared, CTL, 4);
    this.meta = new Float64Array(shared, META, slots * 2);
    this.data = Buffer.from(shared, at.data, slots * slotBytes);
  }

  /** A digest on a new worker thread, or null when no worker can be started (then hash inline). */
  static start(slots = DIGEST_SLOTS, slotBytes = SLOT_BYTES): WorkerDigest | null {
    const at = layout(slots);
    const shared = new SharedArrayBuffer(at.data + slots * slotBytes);
    try {
      const worker = new Worker(WORKER, { eval: true, workerData: { shared, slots, slotBytes, at } });
      worker.unref();
      worker.on('error', () => {});     // the worker's own catch reports failures through the ring
      return new WorkerDigest(worker, shared, slots, slotBytes);
    } catch {
      return null;
    }
  }

  /** True (and the digest failed) when the worker has shown no sign of life for WORKER_SILENCE_MS. */
  private silent(): boolean {
    const sign = Atomics.load(this.ctl, 2) + Atomics.load(this.ctl, 3);
    const now = performance.now();
    if (sign !== this.lastSign) {
      this.lastSign = sign;
      this.lastSignAt = now;
    } else if (now - this.lastSignAt > WORKER_SILENCE_MS) {
      this.failed = true;
    }
    return this.failed;
  }

  /** The worker has hashed slot `submitted - slots` (so the next one is free); false when the worker failed. */
  private waitFree(): boolean {
    for (;;) {
      if (this.failed) return false;
      const hashed = Atomics.load(this.ctl, 2);
      if (this.submitted - hashed < this.slots) return true;
      if (Atomics.load(this.ctl, 0) === 2 || this.silent()) this.failed = true;
      else Atomics.wait(this.ctl, 2, hashed, 1000);
    }
  }

  private submit(zerosBefore: number, bytes: number): void {
    const i = this.submitted % this.slots;
    this.meta[2 * i] = zerosBefore;
    this.meta[2 * i + 1] = bytes;
    Atomics.store(this.ctl, 1, ++this.submitted);
    Atomics.notify(this.ctl, 1);
  }

  /** A buffer of n bytes in the next free slot, for the next bytes written (null: too big, or the worker failed). */
  lend(n: number): Buffer | null {
    if (n > this.slotBytes || !this.waitFree()) return null;
    this.lent = (this.submitted % this.slots) * this.slotBytes;
    return this.data.subarray(this.lent, this.lent + n);
  }

  /** `bytes` were written at `position`; false when that is before the end of what was hashed (hash the file). */
  update(bytes: Buffer, position: number): boolean {
    if (position < this.pos) return false;
    let zeros = position - this.pos;
    this.pos = position + bytes.length;
    if (this.lent >= 0 && bytes.buffer === this.shared && bytes.byteOffset === this.data.byteOffset + this.lent) {
      this.lent = -1;
      this.submit(zeros, bytes.length);            // read straight into the slot: nothing to copy
      return true;
    }
    this.lent = -1;
    for (let at = 0; at < bytes.length || zeros > 0; at += this.slotBytes) {
      if (!this.waitFree()) return true;           // finish() says so
      const n = Math.min(this.slotBytes, bytes.length - at);
      const slot = (this.submitted % this.slots) * this.slotBytes;
      bytes.copy(this.data, slot, at, at + n);
      this.submit(zeros, n);
      zeros = 0;
    }
    return true;
  }

  /** The digest of the file of `size` bytes (zeros after the last write), or null when the worker failed. */
  finish(size: number): FileDigest | null {
    if (size >= this.pos && this.waitFree()) {
      this.submit(size - this.pos, -1);
      while (Atomics.load(this.ctl, 0) === 0 && !this.silent()) Atomics.wait(this.ctl, 0, 0, 1000);
    }
    void this.worker.terminate();
    if (Atomics.load(this.ctl, 0) !== 1) return null;
    const at = layout(this.slots);
    const [user, sys] = new Float64Array(this.shared, at.cpu, 2);
    this.cpu = Number.isNaN(user) ? null : { user, sys };
    return { bytes: size, sha256: Buffer.from(new Uint8Array(this.shared, at.digest, 32)).toString('hex') };
  }

  /** Stops the worker (the build failed). */
  abort(): void {
    this.failed = true;
    void this.worker.terminate();
  }
}
