// Running a sharded engine for llmc verify: one process per rank under mpirun (rank-run.ts), each dumping its own
// activations to DUMP/rank<r>/, rank 0 running the batch. The verify process itself stays outside MPI (it also
// builds and runs the one-rank reference), so it starts the job and reads rank 0's result file.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlmcError, type ErrorCode } from '../errors.js';
import { findMpirun, mpiWorld } from '../runtime/ranks.js';
import { rankDumpDir, type RankJob } from './rank-run.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ShardedRun { steps: number; tokens: { step: number; request: number; token: number }[] }

export async function runSharded(engineDir: string, ranks: number, backend: 'cpu' | 'cuda', dumpDir: string, prompts: number[][], maxNewTokens: number,
  threads: number | undefined): Promise<ShardedRun> {
  if (mpiWorld()) {
    throw new LlmcError('BAD_ARGUMENT', 'llmc verify was started under mpirun', `run it without mpirun: it starts \`mpirun -np ${ranks}\` for the engine's ranks itself`);
  }
  const mpirun = findMpirun();
  if (!mpirun) {
    throw new LlmcError('NOT_FOUND', `engine ${engineDir} has ${ranks} ranks and verify runs them under mpirun, which is not on PATH`,
      'install OpenMPI (Debian/Ubuntu: `apt-get install -y openmpi-bin libopenmpi-dev`, then `npm run build:native`)');
  }
  const script = join(repoRoot, 'dist', 'verify', 'rank-run.js');
  if (!existsSync(script)) throw new LlmcError('NOT_FOUND', `${script} is missing: llmc is not built`, 'run `npm run build:ts`');
  const result = join(dumpDir, 'rank0-result.json');
  const jobFile = join(dumpDir, 'job.json');
  const job: RankJob = { engine: engineDir, prompts, maxNewTokens, dumpDir, result, backend, ...(threads !== undefined ? { threads } : {}) };
  writeFileSync(jobFile, JSON.stringify(job));
  const args = ['-np', String(ranks)];
  if (ranks > cpus().length) args.push('--oversubscribe');   // more ranks than cores: allowed, just slower
  if (process.getuid?.() === 0) args.push('--allow-run-as-root');
  args.push(process.execPath, script, jobFile);
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((res) => {
    const child = spawn(mpirun, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { err += d; });
    child.on('error', (e) => res({ code: -1, stderr: `error: could not start ${mpirun}: ${e.message}` }));
    child.on('close', (c, sig) => res({ code: c ?? (sig ? 129 : 1), stderr: err }));
  });
  const out = existsSync(result) ? JSON.parse(readFileSync(result, 'utf8')) as ShardedRun & { error?: { code: ErrorCode; message: string } } : null;
  if (out?.error) throw new LlmcError(out.error.code, `running ${engineDir} under mpirun -np ${ranks}: ${out.error.message}`);
  if (code !== 0 || !out) {
    const why = stderr.split('\n').find((l) => l.startsWith('error: '))?.slice(7)
      ?? stderr.split('\n').map((l) => l.trim()).find((l) => /exited|signal|killed|abort/i.test(l)) ?? `mpirun exited with status ${code}`;
    throw new LlmcError('RUNTIME', `running ${engineDir} under mpirun -np ${ranks} failed: ${why}`, 'run it with `llmc run ENGINE --token-ids 1,2,3` to see the error');
  }
  for (let r = 0; r < ranks; r++) {
    if (!existsSync(join(rankDumpDir(dumpDir, r), 'index.tsv'))) {
      throw new LlmcError('UNSUPPORTED', `rank ${r} of ${engineDir} wrote no activation dump (LLMC_DUMP_DIR) on the ${backend} backend`, 'verify on a backend that dumps: --backend cpu');
    }
  }
  return out;
}
