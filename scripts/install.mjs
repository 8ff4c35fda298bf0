#!/usr/bin/env node
// npm's `install` script: makes a fresh clone usable with `npm install` alone (then `npm test`).
//   1. generate the op registry (scripts/gen-ops.mjs)
//   2. compile the TypeScript (tsc -p tsconfig.json -> dist/)
//   3. build the native addon (node-gyp -> build/Release/llmc.node), with OpenMPI from apt first where it is
//      missing (scripts/ensure-mpi.mjs; sharded engines), then its MPI plugin (build/Release/llmc_mpi.node)
// Works offline: node-gyp is pointed at the headers of the Node that runs this script (--nodedir), so it never
// downloads them (without the headers it stops and says so; LLMC_ALLOW_DOWNLOAD=1 lets node-gyp fetch them).
// `--native-only` runs step 3 alone (npm run build:native). LLMC_SKIP_NATIVE=1 skips step 3 (compiler work on a
// machine without g++); `llmc run` then says how to build it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureMpi, onPath } from './ensure-mpi.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const nativeOnly = process.argv.includes('--native-only');
const jobs = process.env.LLMC_JOBS || '2';  // the CI machines have 2 cores

function say(line) {
  console.log(`llmc install: ${line}`);
}

function fail(lines) {
  for (const l of lines) console.error(`llmc install: ${l}`);
  process.exit(1);
}

function run(args, what) {
  const started = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.error) return { ok: false, cause: `${what} could not start: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, cause: `${what} failed (exit ${r.status ?? r.signal}) after ${secs} s` };
  say(`  done in ${secs} s`);
  return { ok: true };
}


// npm sets npm_config_node_gyp to its bundled node-gyp while running scripts; otherwise look where npm keeps it.
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(join(dirname(require.resolve('npm/package.json')), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  } catch {
    // npm is not resolvable as a module from here: the other candidates remain
  }
  return candidates.find((p) => p && existsSync(p));
}

const buildHint = 'install a C++ toolchain (Debian/Ubuntu: `apt-get install -y g++ make python3`) and run `npm run build:native`';

function buildNative() {
  const missing = ['g++', 'make', 'python3'].filter((c) => !onPath(c));
  if (missing.length) {
    fail([`cannot build the native addon: ${missing.join(', ')} not found on PATH`, `fix: ${buildHint}`]);
  }
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) {
    fail(['cannot build the native addon: node-gyp not found (it ships with npm)', 'fix: run this through npm (`npm run build:native`) or `npm install -g node-gyp`']);
  }
  // Use the running Node's own headers: nodedir/include/node/node_api.h. Without --nodedir node-gyp downloads them.
  const nodeDir = dirname(dirname(process.execPath));
  const args = [nodeGyp, 'configure', 'build', '-j', jobs, '--loglevel=warn'];
  if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) {
    args.push(`--nodedir=${nodeDir}`);
  } else if (process.env.LLMC_ALLOW_DOWNLOAD === '1') {
    say(`warning: no Node headers under ${nodeDir}/include/node; node-gyp will download them (LLMC_ALLOW_DOWNLOAD=1)`);
  } else {
    // The install never fetches anything by itself (docs/hardening.md, "Supply chain").
    fail([`no Node headers under ${nodeDir}/include/node, and the install does not download them`,
      'fix: use a Node that ships its headers (the nodejs.org tarballs and Debian/NodeSource packages do), or allow node-gyp to fetch them with LLMC_ALLOW_DOWNLOAD=1']);
  }
  say(`[native] building the addon with node-gyp (-j ${jobs}; the C++ runtime takes a minute or two)`);
  const r = run(args, 'the native build');
  if (!r.ok) {
    fail([r.cause, 'the compiler errors are above', `fix: if a tool is missing, ${buildHint}; if the C++ does not compile, report it with the first error above`]);
  }
  const addon = join(root, 'build', 'Release', 'llmc.node');
  if (!existsSync(addon)) fail(['the native build finished but build/Release/llmc.node is missing']);
  // The addon links with -z now: loading it resolves every runtime symbol, so a partial runtime fails here,
  // with the missing symbol's name, rather than at the first `llmc run`.
  const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { encoding: 'utf8' });
  if (load.status !== 0) {
    const cause = (load.stderr || '').split('\n').find((l) => /Error|undefined symbol/.test(l)) ?? `exit ${load.status}`;
    const symbol = /undefined symbol: (\S+)/.exec(cause)?.[1];
    const lines = [`the addon was built but does not load: ${cause.trim()}`];
    if (symbol) {
      const demangled = spawnSync('c++filt', [symbol], { encoding: 'utf8' }).stdout?.trim() || symbol;
      lines.push(`the native runtime is incomplete: ${demangled} is declared but defined in no file of native/runtime or native/cpu`);
    }
    fail(lines);
  }
}

if (!nativeOnly) {
  say('[1/3] generating the op registry (scripts/gen-ops.mjs)');
  let r = run([join(root, 'scripts', 'gen-ops.mjs')], 'gen-ops');
  if (!r.ok) fail([r.cause]);

  say('[2/3] compiling TypeScript (tsc -p tsconfig.json -> dist/)');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) fail(['typescript is not installed; run `npm install` (not `npm install --omit=dev`)']);
  r = run([tsc, '-p', join(root, 'tsconfig.json')], 'tsc');
  if (!r.ok) fail([r.cause, 'the type errors are listed above']);

  if (process.env.LLMC_SKIP_NATIVE === '1') {
    say('[3/3] skipping the native addon (LLMC_SKIP_NATIVE=1); build it later with `npm run build:native`');
    process.exit(0);
  }
  say('[3/3] building the native addon');
  say(`  ${ensureMpi()}`);   // before the addon: its MPI plugin is built only where mpicxx is
}
buildNative();
say('ok: `node bin/llmc.js --help` (or `npx llmc --help`) to start');
