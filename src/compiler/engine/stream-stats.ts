// The build's streaming figures, printed at the end of every build: weight bytes read from the checkpoint and
// written to rank0.engine with their throughput, the input hashing of the content key, the CPU seconds of each
// thread (the main thread reads and writes; workers hash the engine file and the inputs; on a shared machine
// these say more than the wall clock; a tensor copied whole is hashed once, by the engine's digest, for both
// the engine and the content key: segment-digest.ts), and the process's peak RSS (tensors are read and converted one block at a
// time, so it stays flat whatever the model size).
import type { InputHashing } from '../cache/up-to-date.js';
import type { ThreadCpu } from './thread-cpu.js';
import type { StreamStats } from './writer.js';

const GB = 1e9;

function rate(bytes: number, s: number): string {
  return s > 0 ? `${(bytes / GB / s).toFixed(2)} GB/s` : 'n/a';
}

export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

function cpu(label: string, c: ThreadCpu | null): string | null {
  return c ? `${label} ${c.user.toFixed(2)} + ${c.sys.toFixed(2)}` : null;
}

export function streamLine(s: StreamStats, hashed: InputHashing): string {
  const gb = s.bytesWritten / GB;
  const threads = [
    cpu('main', s.mainCpu),
    cpu('engine sha256', s.hashWorker?.cpu ?? null),
    hashed.onWorker ? cpu('inputs sha256', hashed.cpu) : null,
  ].filter((x) => x !== null);
  const parts = [
    `streamed weights: read ${(s.bytesRead / GB).toFixed(3)} GB (${rate(s.bytesRead, s.seconds)}), ` +
      `wrote ${gb.toFixed(3)} GB (${rate(s.bytesWritten, s.seconds)}) in ${s.seconds.toFixed(2)} s`,
    s.hashWorker ? `engine hashed on a worker thread (the build waited ${s.hashWorker.waited.toFixed(2)} s after the last write)` : null,
    hashed.bytes === 0 ? null
      : `hashed inputs ${(hashed.bytes / GB).toFixed(3)} GB (${(hashed.fromEngine / GB).toFixed(3)} GB of it digested with the engine as copied)` +
        (hashed.onWorker ? `, the rest on a worker thread (the build waited ${hashed.seconds.toFixed(2)} s more for it)` : ` in ${hashed.seconds.toFixed(2)} s`),
    threads.length === 0 ? null
      : `thread CPU s (user + sys): ${threads.join(', ')}` +
        (s.mainCpu && gb > 0.01 ? ` (main ${((s.mainCpu.user + s.mainCpu.sys) / gb).toFixed(2)} s/GB)` : ''),
    `peak RSS ${(peakRssBytes() / 2 ** 20).toFixed(0)} MiB`,
  ];
  return parts.filter((p) => p !== null).join('; ');
}
