// CPU seconds of the calling thread (user and system, from /proc/thread-self/stat on Linux; null elsewhere).
// A build runs on up to three threads (the main thread reads and writes the weights, one worker hashes the
// engine file, one the inputs); on a shared machine the wall clock says little, the main thread's CPU time per
// GB is the critical path (docs/perf.md, "Build throughput").
import { readFileSync } from 'node:fs';

export interface ThreadCpu { user: number; sys: number }

const TICKS = 100;   // USER_HZ: /proc reports clock ticks of 1/100 s on every Linux ABI

export function threadCpu(): ThreadCpu | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');      // fields from the 3rd on: utime is the 14th
    return { user: Number(f[11]) / TICKS, sys: Number(f[12]) / TICKS };
  } catch {
    return null;
  }
}

export function cpuSince(before: ThreadCpu | null): ThreadCpu | null {
  const now = threadCpu();
  return now && before ? { user: now.user - before.user, sys: now.sys - before.sys } : null;
}
