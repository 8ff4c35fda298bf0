// One rank of `llmc verify` on a sharded engine, under the mpirun that sharded-run.ts starts:
//   mpirun -np N node dist/verify/rank-run.js JOB.json
// JOB.json: { engine, prompts, maxNewTokens, dumpDir, result, backend, threads }. Every rank dumps its own
// activations to dumpDir/rank<r>/ (LLMC_DUMP_DIR, which the backend reads when the engine loads); rank 0 runs the
// batch as on a one-rank engine (Engine.runBatch: its steps are broadcast to the other ranks) and writes
// { steps, tokens } to `result`; the others follow rank 0's steps (Engine.follow) until it closes the engine.
// A failure on rank 0 is written to `result` as { error: { code, message } } and the rank exits 1.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { LlmcError } from '../errors.js';
import { Engine } from '../runtime/engine.js';
import { mpiWorld } from '../runtime/ranks.js';

export interface RankJob {
  engine: string;
  prompts: number[][];
  maxNewTokens: number;
  dumpDir: string;          // rank r dumps to dumpDir/rank<r>
  result: string;           // rank 0 writes { steps, tokens } or { error } here
  backend: 'cpu' | 'cuda';
  threads?: number;         // per rank; default: this machine's cores / its ranks
}

export const rankDumpDir = (root: string, rank: number) => join(root, `rank${rank}`);

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as RankJob;
  const world = mpiWorld();
  const rank = world?.rank ?? 0;
  try {
    const dump = rankDumpDir(job.dumpDir, rank);
    mkdirSync(dump, { recursive: true });
    process.env.LLMC_DUMP_DIR = dump;
    const threads = job.threads ?? Math.max(1, Math.floor(cpus().length / (world?.localSize ?? 1)));
    const engine = await Engine.load(job.engine, { backend: job.backend, numThreads: threads });
    delete process.env.LLMC_DUMP_DIR;
    try {
      if (rank !== 0) {
        await engine.follow();
        return;
      }
      const r = await engine.runBatch(job.prompts, job.maxNewTokens);
      writeFileSync(job.result, JSON.stringify(r));
    } finally {
      engine.close();
    }
  } catch (e) {
    if (rank === 0) {
      const err = e instanceof LlmcError ? { code: e.code, message: e.message } : { code: 'RUNTIME', message: (e as Error).message.split('\n')[0] };
      writeFileSync(job.result, JSON.stringify({ error: err }));
    } else {
      process.stderr.write(`error: rank ${rank}: ${(e as Error).message.split('\n')[0]}\n`);
    }
    process.exitCode = 1;
  }
}

// Only when run as the script (the module is also imported for its types and rankDumpDir).
if (process.argv[1] && /rank-run\.[jt]s$/.test(process.argv[1])) await main();
