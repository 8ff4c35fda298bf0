// Running a sharded engine from the CLI (docs/parallel.md): one process per rank, started by mpirun.
//   not under MPI    `llmc run ENGINE ...` starts `mpirun -np N node llmc.js run ENGINE ...` itself, passes rank 0's
//                    output through and folds OpenMPI's multi-line notices into one `error:` line
//   under MPI        rank 0 runs the command as usual; every other rank loads its rank file and follows rank 0's
//                    steps (Engine.follow) until rank 0 closes the engine, then exits quietly
// The world size is checked against the engine here, before anything native loads, so a mismatch is one line
// from rank 0 with the rebuild command.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { delimiter, join } from 'node:path';
import { LlmcError } from '../errors.js';
import { rebuildCommand, type EngineManifest } from './manifest.js';

export interface MpiWorld { rank: number; size: number; localSize: number }

/** This process's place in an MPI job, from the launcher's environment (OpenMPI, MPICH/Hydra, PMIx). */
export function mpiWorld(env: NodeJS.ProcessEnv = process.env): MpiWorld | null {
  const num = (...keys: string[]) => {
    for (const k of keys) if (env[k] !== undefined && /^\d+$/.test(env[k]!)) return Number(env[k]);
    return undefined;
  };
  const rank = num('OMPI_COMM_WORLD_RANK', 'PMI_RANK', 'PMIX_RANK');
  const size = num('OMPI_COMM_WORLD_SIZE', 'PMI_SIZE');
  if (rank === undefined || size === undefined) return null;
  return { rank, size, localSize: num('OMPI_COMM_WORLD_LOCAL_SIZE', 'MPI_LOCALNRANKS') ?? size };
}

export function worldSizeOf(m: EngineManifest): number {
  return m.mapping?.world_size ?? 1;
}

export function findMpirun(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.LLMC_MPIRUN) return env.LLMC_MPIRUN;
  for (const d of (env.PATH ?? '').split(delimiter)) if (d && existsSync(join(d, 'mpirun'))) return join(d, 'mpirun');
  return null;
}

export type ShardedRole =
  | { kind: 'single' }                                   // a one-rank engine: run as usual
  | { kind: 'rank0'; world: MpiWorld; threads: number }  // lead: run the command, steps go to every rank
  | { kind: 'follower'; world: MpiWorld; threads: number };

/**
 * What this process does with ENGINE. Throws (rank 0 only: the others exit quietly with status 0, so mpirun does
 * not abort the job before rank 0 has said why; rank 0's status fails the job) when the
 * job's size does not match the engine; relaunches under mpirun (and never returns) when there is no job yet.
 */
export async function shardedRole(dir: string, m: EngineManifest, argv: string[], threads: number | undefined): Promise<ShardedRole> {
  const need = worldSizeOf(m);
  const world = mpiWorld();
  if (need <= 1) return { kind: 'single' };
  if (!world) return relaunch(dir, need, argv);
  if (world.size !== need) {
    if (world.rank !== 0) process.exit(0);               // rank 0 says it once, and its exit status fails the job
    throw new LlmcError('BAD_ARGUMENT', `engine ${dir} has ${need} ranks (tp ${m.mapping?.tp ?? 1} x pp ${m.mapping?.pp ?? 1}) but mpirun started ${world.size}`,
      `run it with \`mpirun -np ${need}\` (or plain \`llmc run\`), or rebuild it for ${world.size}: \`${rebuildCommand(dir, m, world.size)}\``);
  }
  // Ranks on one machine share its cores.
  const t = threads ?? Math.max(1, Math.floor(cpus().length / world.localSize));
  return world.rank === 0 ? { kind: 'rank0', world, threads: t } : { kind: 'follower', world, threads: t };
}

/** OpenMPI's notices are framed by lines of dashes; llmc's own lines start with error:/warning:/[llmc]. */
const OWN_LINE = /^(error|warning): |^\[llmc\]/;

async function relaunch(dir: string, n: number, argv: string[]): Promise<never> {
  const mpirun = findMpirun();
  if (!mpirun) {
    throw new LlmcError('NOT_FOUND', `engine ${dir} has ${n} ranks and needs mpirun, which is not on PATH`,
      'install OpenMPI (Debian/Ubuntu: `apt-get install -y openmpi-bin libopenmpi-dev`, then `npm run build:native`) or rebuild the engine without --tp-size/--pp-size');
  }
  const args = ['-np', String(n)];
  if (n > cpus().length) args.push('--oversubscribe');   // more ranks than cores: allowed, just slower
  if (process.getuid?.() === 0) args.push('--allow-run-as-root');
  args.push(process.execPath, ...process.execArgv, argv[1], ...argv.slice(2));
  const child = spawn(mpirun, args, { stdio: ['inherit', 'inherit', 'pipe'] });
  // A signal to this process goes on to mpirun, which passes it to every rank (Ctrl-C, a service manager's stop).
  // (mpirun then exits 1 whatever the ranks did: a forwarded stop with no error line is a clean stop.)
  let forwarded: NodeJS.Signals | null = null;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      forwarded = sig;
      child.kill(sig);
    });
  }
  let ownError = false;
  let notice: string[] = [];
  let buf = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (/^\[warn\] Epoll /.test(line)) continue;          // OpenMPI's event library at shutdown: noise
      if (OWN_LINE.test(line) || (notice.length === 0 && !/^-{10,}$/.test(line) && line.trim() !== '')) {
        if (line.startsWith('error: ')) {
          if (ownError) continue;                         // one line: the first rank to explain wins
          ownError = true;
        }
        process.stderr.write(`${line}\n`);
      } else {
        notice.push(line);                                // mpirun's own notice: summarised below if needed
      }
    }
  });
  const code = await new Promise<number>((res) => {
    child.on('error', (e) => {
      process.stderr.write(`error: could not start ${mpirun}: ${e.message}\n`);
      res(1);
    });
    child.on('close', (c, sig) => res(c ?? (sig ? 128 + 1 : 1)));
  });
  if (forwarded !== null && !ownError) process.exit(forwarded === 'SIGINT' ? 130 : 0);
  if (code !== 0 && !ownError) {
    const why = notice.map((l) => l.trim()).find((l) => /exited|signal|killed|abort/i.test(l)) ?? `mpirun exited with status ${code}`;
    process.stderr.write(`error: a rank of ${dir} failed: ${why}; every rank was stopped\n`);
  }
  notice = [];
  process.exit(code);
}
