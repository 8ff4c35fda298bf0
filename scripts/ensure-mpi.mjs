// Part of `npm install` (scripts/install.mjs): OpenMPI for sharded engines (docs/parallel.md). Where mpirun or the
// MPI C++ wrapper is missing and Debian's apt can be used (root, or sudo without a password), installs
// openmpi-bin and libopenmpi-dev; otherwise says how, and the build goes on without the MPI plugin (one-rank
// engines run as usual; a sharded one says what is missing). LLMC_NO_APT=1 skips the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGES = ['openmpi-bin', 'libopenmpi-dev'];

/** Whether cmd is an executable name found in a PATH directory (shared with scripts/install.mjs). */
export function onPath(cmd) {
  return (process.env.PATH || '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

/** Returns a line to print: what was done, or what the user can do. */
export function ensureMpi(env = process.env) {
  if (onPath('mpirun') && (onPath('mpicxx') || onPath('mpic++'))) return 'OpenMPI found (mpirun, mpicxx)';
  const manual = `sharded engines (--tp-size/--pp-size) need OpenMPI: \`apt-get install -y ${PACKAGES.join(' ')}\`, then \`npm run build:native\``;
  if (env.LLMC_NO_APT === '1') return `LLMC_NO_APT=1: not installing OpenMPI; ${manual}`;
  if (!onPath('apt-get')) return `no apt-get here; ${manual.replace('`apt-get install -y', 'install the OpenMPI packages (Debian/Ubuntu: `apt-get install -y')}`;
  const root = process.getuid?.() === 0;
  const sudo = !root && onPath('sudo') && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!root && !sudo) return `not root and no password-less sudo; ${manual}`;
  const pre = root ? [] : ['sudo', '-n'];
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const exec = (args) => spawnSync(pre.length ? pre[0] : args[0], pre.length ? [...pre.slice(1), ...args] : args.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: aptEnv });
  // An install without `update` first works where the package lists are fresh; update only when it did not.
  let r = exec(['apt-get', 'install', '-y', '--no-install-recommends', ...PACKAGES]);
  if (r.status !== 0) {
    exec(['apt-get', 'update']);
    r = exec(['apt-get', 'install', '-y', '--no-install-recommends', ...PACKAGES]);
  }
  return r.status === 0 ? `installed OpenMPI from apt (${PACKAGES.join(', ')})` : `apt-get could not install OpenMPI (exit ${r.status}); ${manual}`;
}
