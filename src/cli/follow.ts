// What a rank > 0 of a sharded engine does under any engine command (run, bench, eval): load its rank file and
// follow rank 0's steps; rank 0 prints everything (docs/parallel.md).
import { Engine } from '../runtime/engine.js';
import type { BackendName } from './parse.js';

export async function followRank0(engineDir: string, threads: number | undefined, backend: BackendName | undefined): Promise<void> {
  // mpirun passes Ctrl-C / SIGTERM to every rank: rank 0 handles it (cancels, drains) and then stops the
  // followers with its stop message, so a follower must not die first and fail the job.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => {});
  const engine = await Engine.load(engineDir, { numThreads: threads, backend });
  try {
    await engine.follow();
  } finally {
    engine.close();
  }
}
