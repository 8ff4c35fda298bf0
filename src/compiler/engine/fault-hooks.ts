// Test-only fault injection for the engine writer (docs/hardening.md, "Faults"), read from LLMC_TEST_FAULT:
//   kill-at:POINT    the build SIGKILLs itself when it reaches POINT (see FAULT_POINTS)
//   sleep-at:POINT:MS the build pauses MS milliseconds at POINT (a second build can then meet the lock)
//   enospc-after:N   the engine file write fails with ENOSPC once N bytes of rank0.engine have been written
// Unset (always, outside the tests) it costs one environment lookup per point.

/** Where a build can be killed, in the order it passes them. */
export const FAULT_POINTS = ['locked', 'engine-header', 'weights', 'manifest', 'commit', 'committed'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

function spec(): string {
  return process.env.LLMC_TEST_FAULT ?? '';
}

/** SIGKILLs the process here when LLMC_TEST_FAULT=kill-at:<point>; sleeps MS ms with sleep-at:<point>:MS. */
export function faultPoint(point: FaultPoint): void {
  const s = spec();
  if (s === '') return;
  if (s === `kill-at:${point}`) process.kill(process.pid, 'SIGKILL');
  const m = /^sleep-at:([a-z-]+):(\d+)$/.exec(s);
  if (m && m[1] === point) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(m[2]));
}

/** The ENOSPC error a full disk gives, when LLMC_TEST_FAULT=enospc-after:N and this write would pass N bytes. */
export function injectedWriteFailure(writtenSoFar: number, length: number): NodeJS.ErrnoException | null {
  const m = /^enospc-after:(\d+)$/.exec(spec());
  if (!m || writtenSoFar + length <= Number(m[1])) return null;
  const e = new Error('ENOSPC: no space left on device, write') as NodeJS.ErrnoException;
  e.code = 'ENOSPC';
  e.errno = -28;
  e.syscall = 'write';
  return e;
}
