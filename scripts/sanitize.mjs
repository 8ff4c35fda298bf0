#!/usr/bin/env node
// CI's sanitizer step (.ci/run; docs/hardening.md): the native runtime built with AddressSanitizer +
// UndefinedBehaviorSanitizer (+ LeakSanitizer) in native/build-asan, then
//   1. the native test binaries (runtime self test, targets/dummy weights, backend ops, quantized ops, CUDA host code and the
//      CUDA backend on the emulator),
//   2. every golden fixture through the standalone runner llmc-run: prefill + decode logits within 1e-4 of HF and
//      greedy tokens identical (as test/golden does through the CLI),
//   3. damaged engines through llmc-run (truncated, swapped, bytes appended, bad offsets): a one-line error,
//      no report.
// Any sanitizer report aborts the binary (-fno-sanitize-recover), which fails the step.
//   node scripts/sanitize.mjs [--skip-build] [--fixtures a,b]
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'native', 'build-asan');
const golden = join(root, 'test', 'fixtures', 'golden');
const args = process.argv.slice(2);
const env = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  LSAN_OPTIONS: 'exitcode=23',
};
const started = Date.now();
let failures = 0;

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000, ...opts });
  return { code: r.status ?? -1, signal: r.signal, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const SANITIZER = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)/;

function check(label, ok, detail = '') {
  process.stdout.write(`sanitize: ${ok ? 'ok  ' : 'FAIL'} ${label}\n`);
  if (!ok) {
    failures++;
    if (detail) process.stdout.write(`${detail.slice(-6000)}\n`);
  }
}

function buildAsan() {
  const jobs = process.env.LLMC_JOBS || '2';
  let r = sh('cmake', ['-S', 'native', '-B', build, '-DLLMC_SANITIZE=ON', '-DCMAKE_BUILD_TYPE=Release']);
  if (r.code !== 0) throw new Error(`cmake configure failed:\n${r.out.slice(-3000)}`);
  r = sh('cmake', ['--build', build, '-j', jobs]);
  if (r.code !== 0) throw new Error(`the sanitizer build failed:\n${r.out.slice(-3000)}`);
}

function nativeTests() {
  const tests = [
    ['runtime_selftest', []], ['target_dummy_test', []], ['backend_ops', []], ['quant_ops', []], ['cuda_host_selftest', []],
    ['cuda_backend_ops', ['--emulate']], ['cuda_emu_backend_test', []],
  ];
  for (const [bin, argv] of tests) {
    if (!existsSync(join(build, bin))) continue;
    const r = sh(join(build, bin), argv);
    check(`${bin} ${argv.join(' ')}`.trim(), r.code === 0 && !SANITIZER.test(r.out), r.out);
  }
}

function readF32(path) {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxAbsDiff(a, rowA, b, rowB, rows, vocab) {
  let m = 0;
  for (let i = 0; i < rows * vocab; i++) m = Math.max(m, Math.abs(a[rowA * vocab + i] - b[rowB * vocab + i]));
  return m;
}

function llmcBuild(modelDir, out) {
  const r = sh(process.execPath, [join(root, 'bin', 'llmc.js'), 'build', modelDir, '-o', out, '--dtype', 'float32', '--force']);
  if (r.code !== 0) throw new Error(`llmc build ${modelDir} failed: ${r.out}`);
}

function goldenRuns(work, only) {
  const index = JSON.parse(readFileSync(join(golden, 'index.json'), 'utf8'));
  const names = index.fixtures.map((f) => f.name).filter((n) => !only || only.includes(n));
  for (const name of names) {
    const fx = JSON.parse(readFileSync(join(golden, name, 'golden.json'), 'utf8'));
    const engine = join(work, name);
    llmcBuild(join(golden, name, 'model'), engine);
    for (const p of [0, 1]) {
      const prompt = fx.prompts[p];
      const want = fx.greedy[p].new_tokens;
      const logits = join(work, `${name}-${p}.f32`);
      const r = sh(join(build, 'llmc-run'), [engine, '--token-ids', prompt.join(','), '--max-new-tokens', String(want.length),
        '--temperature', '0', '--ignore-eos', '--json', '--logits-out', logits, '--threads', '2']);
      let ok = r.code === 0 && !SANITIZER.test(r.out);
      let why = r.out;
      if (ok) {
        const out = JSON.parse(r.stdout.trim().split('\n').pop());
        const got = readF32(logits);
        const vocab = fx.vocab_size;
        const prefill = readF32(join(golden, name, fx.prefill[p].file));
        let diff = maxAbsDiff(got, 0, prefill, 0, prompt.length, vocab);
        if (p === 0) diff = Math.max(diff, maxAbsDiff(got, prompt.length - 1, readF32(join(golden, name, fx.decode.file)), 0, fx.decode.shape[0], vocab));
        ok = diff <= 1e-4 && JSON.stringify(out.output_ids) === JSON.stringify(want);
        why = `max |logits - HF| ${diff}, tokens ${JSON.stringify(out.output_ids)} vs ${JSON.stringify(want)}`;
      }
      check(`golden ${name} prompt ${p} through llmc-run`, ok, why);
    }
  }
}

/** Damaged engines: each must be refused with one line naming rank0.engine, under the sanitizers. */
function damagedEngines(work) {
  const good = join(work, 'llama');
  if (!existsSync(good)) llmcBuild(join(golden, 'llama', 'model'), good);
  const other = join(work, 'gpt2');
  if (!existsSync(other)) llmcBuild(join(golden, 'gpt2', 'model'), other);
  const size = readFileSync(join(good, 'rank0.engine')).length;
  const cases = [
    ['truncated in the data section', (d) => truncateSync(join(d, 'rank0.engine'), size - 100), /truncated/],
    ['truncated in the header', (d) => truncateSync(join(d, 'rank0.engine'), 20), /truncated/],
    ['empty', (d) => truncateSync(join(d, 'rank0.engine'), 0), /truncated/],
    ['swapped with another engine\'s', (d) => copyFileSync(join(other, 'rank0.engine'), join(d, 'rank0.engine')), /does not belong to this engine|config\.json records \d+ \(integrity\.files\)/],
    ['bytes appended', (d) => appendFileSync(join(d, 'rank0.engine'), Buffer.alloc(4096)), /follow its data section|config\.json records \d+ \(integrity\.files\)/],
    ['data size beyond the file', (d) => {
      const b = readFileSync(join(d, 'rank0.engine'));
      b.writeBigUInt64LE(2n ** 63n, 32);
      writeFileSync(join(d, 'rank0.engine'), b);
    }, /runs past the end/],
  ];
  for (const [label, damage, pattern] of cases) {
    const d = join(work, `damaged-${label.replace(/\W+/g, '-')}`);
    rmSync(d, { recursive: true, force: true });
    cpSync(good, d, { recursive: true });
    damage(d);
    const r = sh(join(build, 'llmc-run'), [d, '--token-ids', '1,2,3', '--max-new-tokens', '2']);
    const lines = r.stderr.trim().split('\n');
    const ok = r.code !== 0 && r.signal === null && !SANITIZER.test(r.out) && lines.length === 1 && pattern.test(lines[0]) && lines[0].includes('rank0.engine');
    check(`damaged engine (${label}) refused with one line`, ok, r.out);
  }
}

function main() {
  if (!args.includes('--skip-build')) buildAsan();
  const only = args.includes('--fixtures') ? args[args.indexOf('--fixtures') + 1].split(',') : null;
  const work = mkdtempSync(join(tmpdir(), 'llmc-sanitize-'));
  try {
    nativeTests();
    goldenRuns(work, only);
    damagedEngines(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  process.stdout.write(`sanitize: ${failures === 0 ? 'all passed' : `${failures} failed`} (ASan + UBSan + LSan) in ${secs} s\n`);
  process.exitCode = failures === 0 ? 0 : 1;
}

main();
