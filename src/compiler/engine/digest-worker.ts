// The engine file's segment digests (segment-digest.ts) as it is written: on a worker thread (WorkerDigest), so
// that the main thread of a build only reads and writes the weights (docs/perf.md, "Build throughput"), or on
// the main thread (InlineDigest) for a small file. SegmentedDigest cuts the stream of writes into the planned
// segments and skips the bytes of segments whose sha256 is already known (a tensor copied from the checkpoint
// whose span the input hashing already read: the same bytes, the same sha256).
//
// The worker: the main thread reads each block of weights straight into one of a few slots of a
// SharedArrayBuffer (lend(), handed to TensorReader), writes it to the engine file and submits the slot; the
// worker hashes the slots in order and gives each one back. Copied weights are never copied again; bytes from
// elsewhere (the header, converted blocks) are copied into slots first. The file is written at increasing
// positions and a gap is zeros (the padding ftruncate leaves). If the worker fails or a write goes backwards,
// finish() returns null and the caller hashes the finished file instead.
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { ThreadCpu } from './thread-cpu.js';
import type { Span } from './segment-digest.js';
import { COPY_BLOCK_BYTES } from './weight-data.js';

/** Where SegmentedDigest sends what is to be hashed: bytes, zeros, and the end of segment `index`. */
export interface SegmentSink {
  data(bytes: Buffer): void;
  zeros(n: number): void;
  cut(index: number): void;
  /** Each cut segment's sha256 by index (unset for segments never cut), or null when hashing failed. */
  finish(): (string | undefined)[] | null;
}

// The ring: ctl = [state (0 running, 1 done, 2 failed), entries submitted, entries hashed, heartbeat, slots
// hashed]; per entry [zeros before, bytes (0: none, -1: the end), segment cut after it (-1: none)]; the worker's
// CPU seconds [user, sys]; 32 bytes of digest per segment; then the slots. The k-th entry with bytes uses slot
// k % slots, so an entry that only cuts takes no slot (a slot lent for the next block stays valid).
const CTL = 0, META = 32, ENTRIES = 64;
const layout = (segments: number) => {
  const cpu = META + 24 * ENTRIES, digest = cpu + 16, data = Math.ceil((digest + 32 * segments) / 4096) * 4096;
  return { cpu, digest, data };
};

const WORKER = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { shared, slots, slotBytes, entries, at } = workerData;
const ctl = new Int32Array(shared, ${CTL}, 5);
const meta = new Float64Array(shared, ${META}, entries * 3);
const cpu = new Float64Array(shared, at.cpu, 2);
const digests = new Uint8Array(shared, at.digest, at.data - at.digest);
const data = Buffer.from(shared, at.data, slots * slotBytes);
try {
  let h = createHash('sha256');
  const zeros = Buffer.alloc(1 << 16);
  const hashZeros = (n) => {
    for (let left = n; left > 0; left -= zeros.length) h.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  };
  for (let done = 0, slot = 0;; ) {
    const submitted = Atomics.load(ctl, 1);
    Atomics.add(ctl, 3, 1);
    if (done === submitted) { Atomics.wait(ctl, 1, submitted, 1000); continue; }
    const e = done % entries;
    hashZeros(meta[3 * e]);
    const n = meta[3 * e + 1];
    if (n < 0) break;
    if (n > 0) {
      const s = slot++ % slots;
      h.update(data.subarray(s * slotBytes, s * slotBytes + n));
      Atomics.store(ctl, 4, slot);
    }
    const cut = meta[3 * e + 2];
    if (cut >= 0) {
      digests.set(h.digest(), cut * 32);
      h = createHash('sha256');
    }
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

export class WorkerDigest implements SegmentSink {
  private readonly ctl: Int32Array;
  private readonly meta: Float64Array;
  private readonly slotData: Buffer;
  private submitted = 0;          // entries
  private used = 0;               // slots
  private pendingZeros = 0;
  private lent = -1;             // byte offset in `data` of the slot lend() gave out, -1 if none
  private failed = false;
  private lastSign = -1;          // hashed + heartbeat when last seen changing, and when
  private lastSignAt = 0;
  /** The worker thread's CPU seconds, once finish() returned digests. */
  cpu: ThreadCpu | null = null;

  private constructor(private readonly worker: Worker, private readonly shared: SharedArrayBuffer,
    private readonly slots: number, private readonly slotBytes: number, private readonly segments: number) {
    const at = layout(segments);
    this.ctl = new Int32Array(shared, CTL, 5);
    this.meta = new Float64Array(shared, META, ENTRIES * 3);
    this.slotData = Buffer.from(shared, at.data, slots * slotBytes);
  }

  /** A digest of `segments` segments on a new worker thread, or null when no worker can be started (then hash inline). */
  static start(segments: number, slots = DIGEST_SLOTS, slotBytes = SLOT_BYTES): WorkerDigest | null {
    const at = layout(segments);
    const shared = new SharedArrayBuffer(at.data + slots * slotBytes);
    try {
      const worker = new Worker(WORKER, { eval: true, workerData: { shared, slots, slotBytes, entries: ENTRIES, at } });
      worker.unref();
      worker.on('error', () => {});     // the worker's own catch reports failures through the ring
      return new WorkerDigest(worker, shared, slots, slotBytes, segments);
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

  /** Waits until an entry (and, with `slot`, a slot) is free; false when the worker failed. */
  private waitFree(slot: boolean): boolean {
    for (;;) {
      if (this.failed) return false;
      const hashed = Atomics.load(this.ctl, 2);
      if (this.submitted - hashed < ENTRIES && (!slot || this.used - Atomics.load(this.ctl, 4) < this.slots)) return true;
      if (Atomics.load(this.ctl, 0) === 2 || this.silent()) this.failed = true;
      else Atomics.wait(this.ctl, 2, hashed, 1000);
    }
  }

  private submit(bytes: number, cut: number): void {
    const e = this.submitted % ENTRIES;
    this.meta[3 * e] = this.pendingZeros;
    this.meta[3 * e + 1] = bytes;
    this.meta[3 * e + 2] = cut;
    this.pendingZeros = 0;
    if (bytes > 0) this.used++;
    Atomics.store(this.ctl, 1, ++this.submitted);
    Atomics.notify(this.ctl, 1);
  }

  /** A buffer of n bytes in the next free slot, for the next bytes written (null: too big, or the worker failed). */
  lend(n: number): Buffer | null {
    if (n > this.slotBytes || !this.waitFree(true)) return null;
    this.lent = (this.used % this.slots) * this.slotBytes;
    return this.slotData.subarray(this.lent, this.lent + n);
  }

  data(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const slotAt = (this.used % this.slots) * this.slotBytes;
    if (this.lent === slotAt && bytes.buffer === this.shared && bytes.byteOffset === this.slotData.byteOffset + slotAt &&
        bytes.length <= this.slotBytes && this.waitFree(false)) {
      this.lent = -1;
      this.submit(bytes.length, -1);            // read straight into the slot: nothing to copy
      return;
    }
    this.lent = -1;
    for (let at = 0; at < bytes.length; at += this.slotBytes) {
      if (!this.waitFree(true)) return;           // finish() says so
      const n = Math.min(this.slotBytes, bytes.length - at);
      bytes.copy(this.slotData, (this.used % this.slots) * this.slotBytes, at, at + n);
      this.submit(n, -1);
    }
  }

  zeros(n: number): void {
    this.pendingZeros += n;
  }

  cut(index: number): void {
    if (index < 0 || index >= this.segments) throw new Error(`WorkerDigest: segment ${index} of ${this.segments}`);
    if (this.waitFree(false)) this.submit(0, index);
  }

  finish(): (string | undefined)[] | null {
    if (this.waitFree(false)) {
      this.submit(-1, -1);
      while (Atomics.load(this.ctl, 0) === 0 && !this.silent()) Atomics.wait(this.ctl, 0, 0, 1000);
    }
    void this.worker.terminate();
    if (Atomics.load(this.ctl, 0) !== 1) return null;
    const at = layout(this.segments);
    const [user, sys] = new Float64Array(this.shared, at.cpu, 2);
    this.cpu = Number.isNaN(user) ? null : { user, sys };
    const all = Buffer.from(new Uint8Array(this.shared, at.digest, 32 * this.segments));
    return Array.from({ length: this.segments }, (_, i) => all.subarray(32 * i, 32 * i + 32).toString('hex'));
  }

  /** Stops the worker (the build failed). */
  abort(): void {
    this.failed = true;
    void this.worker.terminate();
  }
}

/** The same on the calling thread (a small file, or no worker). */
export class InlineDigest implements SegmentSink {
  private h: Hash = createHash('sha256');
  private readonly out: (string | undefined)[] = [];
  private static readonly ZEROS = Buffer.alloc(1 << 16);

  data(bytes: Buffer): void {
    this.h.update(bytes);
  }

  zeros(n: number): void {
    const z = InlineDigest.ZEROS;
    for (let left = n; left > 0; left -= z.length) this.h.update(left >= z.length ? z : z.subarray(0, left));
  }

  cut(index: number): void {
    this.out[index] = this.h.digest('hex');
    this.h = createHash('sha256');
  }

  finish(): (string | undefined)[] {
    return this.out;
  }
}

/**
 * Cuts a file written at increasing positions into `segments` (tiling [0, size)) and sends each segment's bytes
 * to the sink, except those of the segments marked `skip` (their sha256 is known elsewhere). A gap between writes
 * is zeros (the padding ftruncate leaves), so the file is never read back.
 */
export class SegmentedDigest {
  private pos = 0;
  private seg = 0;

  constructor(private readonly segments: readonly Span[], private readonly skip: readonly boolean[], private readonly sink: SegmentSink) {}

  /** Whether the bytes written next at `position` are hashed (false: inside a skipped segment). */
  hashes(position: number): boolean {
    let s = this.seg;
    while (s < this.segments.length && position >= this.segments[s].offset + this.segments[s].bytes) s++;
    return s < this.segments.length && !this.skip[s];
  }

  /** `bytes` were written at `position`; false when that is before the end of what was hashed (hash the file). */
  update(bytes: Buffer, position: number): boolean {
    if (position < this.pos) return false;
    this.advance(position, null);
    this.advance(position + bytes.length, bytes);
    return true;
  }

  /** The file's final size (zeros after the last write): each segment's sha256 (null: hashing failed). */
  finish(size: number): (string | undefined)[] | null {
    if (size < this.pos) return null;
    this.advance(size, null);
    const end = this.segments.length ? this.segments[this.segments.length - 1] : { offset: 0, bytes: 0 };
    if (end.offset + end.bytes !== size) throw new Error(`SegmentedDigest: the segments end at ${end.offset + end.bytes}, the file at ${size}`);
    return this.sink.finish();
  }

  /** Hashes up to `to`: the bytes (starting at this.pos), or zeros when `bytes` is null, cutting at segment ends. */
  private advance(to: number, bytes: Buffer | null): void {
    const from = this.pos;
    while (this.pos < to) {
      const s = this.segments[this.seg];
      if (s === undefined) throw new Error(`SegmentedDigest: a write at ${this.pos} is past the last segment`);
      const end = Math.min(to, s.offset + s.bytes);
      if (!this.skip[this.seg]) {
        if (bytes) this.sink.data(bytes.subarray(this.pos - from, end - from));
        else this.sink.zeros(end - this.pos);
      }
      this.pos = end;
      if (end === s.offset + s.bytes) {
        if (!this.skip[this.seg]) this.sink.cut(this.seg);
        this.seg++;
      }
    }
    // Empty segments (an empty file's only one) end where they start.
    while (this.seg < this.segments.length && this.segments[this.seg].bytes === 0 && this.segments[this.seg].offset === this.pos) {
      if (!this.skip[this.seg]) this.sink.cut(this.seg);
      this.seg++;
    }
  }
}
