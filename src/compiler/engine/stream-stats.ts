// The build's streaming figures, printed at the end of every build: weight bytes read from the checkpoint and
// written to rank0.engine with their throughput, the input hashing of the content key, and the process's peak
// RSS (tensors are read and converted one block at a time, so it stays flat whatever the model size).
import { INLINE_HASH_BYTES } from '../cache/hash-worker.js';
import type { StreamStats } from './writer.js';

const GB = 1e9;

function rate(bytes: number, s: number): string {
  return s > 0 ? `${(bytes / GB / s).toFixed(2)} GB/s` : 'n/a';
}

export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export function streamLine(s: StreamStats, hashed: { bytes: number; seconds: number }): string {
  const parts = [
    `streamed weights: read ${(s.bytesRead / GB).toFixed(3)} GB (${rate(s.bytesRead, s.seconds)}), ` +
      `wrote ${(s.bytesWritten / GB).toFixed(3)} GB (${rate(s.bytesWritten, s.seconds)}) in ${s.seconds.toFixed(2)} s`,
    hashed.bytes === 0 ? null : hashed.bytes < INLINE_HASH_BYTES
      ? `hashed inputs ${(hashed.bytes / GB).toFixed(3)} GB in ${hashed.seconds.toFixed(2)} s`
      : `hashed inputs ${(hashed.bytes / GB).toFixed(3)} GB on a worker thread (the build waited ${hashed.seconds.toFixed(2)} s more for it)`,
    `peak RSS ${(peakRssBytes() / 2 ** 20).toFixed(0)} MiB`,
  ];
  return parts.filter((p) => p !== null).join('; ');
}
