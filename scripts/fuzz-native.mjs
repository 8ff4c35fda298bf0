#!/usr/bin/env node
// The native loader's libFuzzer targets (native/fuzz: fuzz_engine_file, fuzz_plan, fuzz_manifest) with ASan + UBSan.
//   node scripts/fuzz-native.mjs [--runs N] [--seed S] [--target NAME,...] [--timeout-s T]
// Installs clang from Debian apt when it is missing (needs root; otherwise prints the apt-get line), builds
// native/build-fuzz, makes a seed corpus from engines built out of the golden fixtures (dist/fuzz/corpus.js:
// whole rank0.engine files, their plan JSON, their config.json), writes a JSON dictionary from schema/ops.json,
// and runs each target for N inputs with a fixed seed. Prints one line per target; exits 1 on any crash,
// sanitizer report, leak or timeout (libFuzzer's artifact is kept under native/build-fuzz/artifacts).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'native', 'build-fuzz');
const TARGETS = ['fuzz_engine_file', 'fuzz_plan', 'fuzz_manifest'];

function parseArgs(argv) {
  const o = { runs: 100000, seed: 1, targets: TARGETS, timeoutS: 10 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--runs') { o.runs = Number(v); i++; }
    else if (argv[i] === '--seed') { o.seed = Number(v); i++; }
    else if (argv[i] === '--target') { o.targets = v.split(','); i++; }
    else if (argv[i] === '--timeout-s') { o.timeoutS = Number(v); i++; }
    else die(`unknown argument ${argv[i]}; usage: node scripts/fuzz-native.mjs [--runs N] [--seed S] [--target ${TARGETS.join(',')}] [--timeout-s T]`);
  }
  for (const t of o.targets) if (!TARGETS.includes(t)) die(`unknown target ${t} (${TARGETS.join(', ')})`);
  if (!Number.isSafeInteger(o.runs) || o.runs < 1 || !Number.isSafeInteger(o.seed) || o.seed < 0) die('--runs and --seed must be integers');
  return o;
}

function die(msg) {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(1);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

const has = (cmd) => sh('sh', ['-c', `command -v ${cmd}`]).code === 0;

/** clang++ and its libFuzzer runtime (clang prints the bare name back when it has no such file). */
function hasLibFuzzer() {
  if (!has('clang++')) return false;
  const path = sh('clang++', ['-print-file-name=libclang_rt.fuzzer-x86_64.a']).out.trim();
  return path.startsWith('/') && existsSync(path);
}

/** clang++ with libFuzzer (Debian bookworm: clang 14, the fuzzer runtime is in libclang-rt-14-dev). */
export function ensureClang() {
  if (hasLibFuzzer()) return;
  const line = 'apt-get update && apt-get install -y clang libclang-rt-14-dev';
  if (process.getuid?.() !== 0) die(`clang++ with libFuzzer is not installed; run: ${line}`);
  process.stderr.write(`fuzz-native: installing clang (${line})\n`);
  const r = sh('sh', ['-c', `export DEBIAN_FRONTEND=noninteractive; ${line}`]);
  if (r.code !== 0 || !hasLibFuzzer()) die(`could not install clang and libFuzzer:\n${r.out.slice(-2000)}`);
}

function buildFuzzers() {
  let r = sh('cmake', ['-S', 'native', '-B', build, '-DLLMC_FUZZ=ON', '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DCMAKE_CXX_COMPILER=clang++']);
  if (r.code !== 0) die(`cmake configure failed:\n${r.out.slice(-3000)}`);
  r = sh('cmake', ['--build', build, '-j', process.env.LLMC_JOBS || '2', '--target', ...TARGETS]);
  if (r.code !== 0) die(`building the fuzzers failed:\n${r.out.slice(-3000)}`);
}

/** Seeds: real engines (built from the golden fixtures), their plans and manifests; a JSON dictionary. */
async function makeCorpus() {
  const dist = join(root, 'dist', 'fuzz', 'corpus.js');
  if (!existsSync(dist)) die('dist/ is missing: run `npm run build:ts` first');
  const { fixtureEngines } = await import(dist);
  const { ENGINE_CORPUS } = await import(join(root, 'dist', 'fuzz', 'targets', 'engine.js'));
  const { HEADER_BYTES, HEADER_OFFSETS } = await import(join(root, 'dist', 'compiler', 'engine', 'format.generated.js'));
  const seeds = join(build, 'seeds');
  rmSync(seeds, { recursive: true, force: true });
  for (const t of TARGETS) mkdirSync(join(seeds, t), { recursive: true });
  for (const [name, dir] of await fixtureEngines(ENGINE_CORPUS)) {
    const file = readFileSync(join(dir, 'rank0.engine'));
    const safe = name.replace(/[^a-z0-9_-]/gi, '_');
    writeFileSync(join(seeds, 'fuzz_engine_file', `${safe}.engine`), file);
    const p = Number(file.readBigUInt64LE(HEADER_OFFSETS.plan_length));
    writeFileSync(join(seeds, 'fuzz_plan', `${safe}.json`), file.subarray(HEADER_BYTES, HEADER_BYTES + p));
    cpSync(join(dir, 'config.json'), join(seeds, 'fuzz_manifest', `${safe}.json`));
  }
  const ops = JSON.parse(readFileSync(join(root, 'schema', 'ops.json'), 'utf8'));
  const words = new Set(['values', 'nodes', 'kind', 'weight', 'activation', 'dtype', 'shape', 'offset', 'nbytes', 'dummy', 'seed',
    'std', 'value', 'rows', 'tokens', 'logit_rows', 'width', 'arena_offset', 'inputs', 'outputs', 'attrs', 'op', 'op_id', 'logits',
    'f32', 'f16', 'bf16', 'normal', 'ones', 'const', 'format_version', 'schema_hash', 'target', 'backend', 'cuda', 'cpu', 'archs',
    'fatbin', 'ptx', 'mapping', 'world_size', 'generation', 'eos_token_ids', 'memory_plan', 'model', 'limits', 'kv_cache', 'arena',
    'floats_per_token', 'logit_floats_per_row', 'max_logit_rows', 'max_num_tokens']);
  for (const [name, op] of Object.entries(ops.ops ?? {})) {
    words.add(name);
    for (const a of Object.keys(op.attrs ?? {})) words.add(a);
  }
  for (const e of Object.values(ops.enums ?? {})) for (const v of Object.keys(e.values ?? {})) words.add(v);
  const dict = [...words].map((w) => `"\\"${w}\\""`).concat(['"-1"', '"4096"', '"9007199254740993"', '"1e999"', '"[]"', '"{}"', '"null"']);
  writeFileSync(join(build, 'engine.dict'), `${dict.join('\n')}\n`);
  return seeds;
}

function runFuzzer(name, seeds, o) {
  const work = join(build, 'corpus', name);
  const artifacts = join(build, 'artifacts', name);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  rmSync(artifacts, { recursive: true, force: true });   // a finding of an earlier run is not this run's
  mkdirSync(artifacts, { recursive: true });
  const started = Date.now();
  const r = sh(join(build, name), [work, join(seeds, name), `-runs=${o.runs}`, `-seed=${o.seed}`, `-timeout=${o.timeoutS}`,
    '-rss_limit_mb=4096', '-malloc_limit_mb=2048', '-max_len=1048576', `-dict=${join(build, 'engine.dict')}`, '-print_final_stats=1',
    `-artifact_prefix=${artifacts}/`], { env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' } });
  const seconds = (Date.now() - started) / 1000;
  const runs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(r.out)?.[1] ?? /Done (\d+) runs/.exec(r.out)?.[1] ?? 0);
  const bad = r.code !== 0 || /ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==ERROR/.test(r.out);
  const crashes = readdirSync(artifacts).filter((f) => /^(crash|leak|timeout|oom)-/.test(f));
  return { target: name, runs, seconds, ok: !bad && crashes.length === 0, artifacts: crashes.map((f) => join(artifacts, f)), tail: bad ? r.out.slice(-6000) : '' };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  ensureClang();
  buildFuzzers();
  const seeds = await makeCorpus();
  let ok = true;
  for (const t of o.targets) {
    const r = runFuzzer(t, seeds, o);
    ok = ok && r.ok;
    process.stdout.write(`fuzz-native ${t.padEnd(17)} seed ${o.seed}: ${r.runs} inputs in ${r.seconds.toFixed(1)} s ` +
      `(${Math.round(r.runs / Math.max(r.seconds, 0.001))}/s): ${r.ok ? '0 crashes, 0 sanitizer reports, 0 timeouts' : 'FAILED'}\n`);
    if (!r.ok) process.stdout.write(`${r.tail}\nartifacts: ${r.artifacts.join(' ')}\n`);
  }
  process.exitCode = ok ? 0 : 1;
}

main();
