#!/usr/bin/env node
// Used by binding.gyp: the compile and link flags of MPI for the optional plugin build/Release/llmc_mpi.so.
//   node scripts/find-mpi.mjs found     -> 1 when an MPI C++ wrapper (mpicxx) is on PATH and gives its flags, else 0
//   node scripts/find-mpi.mjs cflags    -> its compile flags;   ldflags -> its link flags
// Without MPI the addon still builds and runs one-rank engines (docs/parallel.md says how to add MPI).
import { spawnSync } from 'node:child_process';

function showme(what) {
  for (const cmd of ['mpicxx', 'mpic++']) {
    const r = spawnSync(cmd, [`--showme:${what}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  return null;
}

const mode = process.argv[2];
const compile = showme('compile');
const link = showme('link');
if (mode === 'found') console.log(compile !== null && link !== null ? 1 : 0);
else if (mode === 'cflags') console.log(compile ?? '');
else if (mode === 'ldflags') console.log(link ?? '');
else {
  console.error('usage: find-mpi.mjs found|cflags|ldflags');
  process.exit(2);
}
