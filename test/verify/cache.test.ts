// Reproducible builds, the content key ("up to date"), the engine cache (--cache-dir, llmc cache ls|prune),
// per-file checksums (llmc verify --integrity) and llmc diff.
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findNvcc } from '../../src/compiler/cuda/nvcc.js';
import { expectCleanError, llmc, repoRoot, tempDir } from '../helpers/cli.js';
import { loadFixture } from '../helpers/golden.js';

const work = tempDir('llmc-cache-');
const ckpt = join(work, 'ckpt');                  // a copy: the tests touch its files
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => cpSync(loadFixture('llama').modelDir, ckpt, { recursive: true }));

function build(out: string, extra: string[] = [], env?: NodeJS.ProcessEnv) {
  const r = llmc(['build', ckpt, '-o', out, ...extra], { env });
  if (r.code !== 0) throw new Error(r.stdout + r.stderr);
  return r.stdout;
}

function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

function expectSameBytes(a: string, b: string): void {
  expect(filesOf(a)).toEqual(filesOf(b));
  for (const f of filesOf(a)) expect([f, readFileSync(join(a, f)).equals(readFileSync(join(b, f)))]).toEqual([f, true]);
}

test('two builds of the same inputs are byte-identical; created is SOURCE_DATE_EPOCH or the newest input', () => {
  const a = join(work, 'r1'), b = join(work, 'r2');
  build(a);
  build(b);
  expectSameBytes(a, b);
  const d = llmc(['diff', a, b]);
  expect(d.code).toBe(0);
  expect(d.stdout).toMatch(/identical \(16 weights compared\)/);
  const m = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
  const newest = Math.max(...m.build_key.inputs.map((i: { mtime_ms: number }) => i.mtime_ms));
  expect(m.created).toBe(new Date(newest).toISOString().replace(/\.\d+Z$/, 'Z'));
  expect(m.build_key.key).toMatch(/^[0-9a-f]{64}$/);
  expect(m.build_key.inputs.map((i: { file: string }) => i.file.slice(ckpt.length + 1))).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
  const c = join(work, 'r3');
  build(c, [], { SOURCE_DATE_EPOCH: '1700000000' });
  expect(JSON.parse(readFileSync(join(c, 'config.json'), 'utf8')).created).toBe('2023-11-14T22:13:20Z');
});

test('hashing on worker threads (as large models do: the engine file and the inputs) gives the same bytes and checksums', () => {
  const a = join(work, 'rd'), w = join(work, 'rw');
  const out = build(w, [], { LLMC_TEST_HASH_WORKER_BYTES: '0' });
  expect(out).toMatch(/engine hashed on a worker thread/);
  expect(out).toMatch(/hashed inputs [\d.]+ GB \([\d.]+ GB of it digested with the engine as copied\), the rest on a worker thread/);
  expect(build(a)).not.toMatch(/on a worker thread/);
  expectSameBytes(a, w);                                  // config.json too: the same per-file sha256 and key
  const v = llmc(['verify', w, '--integrity']);
  expect([v.code, v.stdout]).toEqual([0, expect.stringMatching(/ok: 2 files and the manifest match their checksums/)]);
});

test('a rebuild with the same key is a no-op that says so; a changed input or flag rebuilds', () => {
  const e = join(work, 'utd');
  build(e);
  const before = statSync(join(e, 'rank0.engine'));
  expect(build(e)).toMatch(/: up to date \(inputs unchanged: same size and mtime\); key [0-9a-f]{16}/);
  utimesSync(join(ckpt, 'model.safetensors'), new Date(), new Date(Date.now() + 5000));
  expect(build(e)).toMatch(/up to date \(inputs rehashed: same content\)/);
  expect(build(e, ['--rehash'])).toMatch(/up to date \(inputs and engine rehashed\)/);
  const after = statSync(join(e, 'rank0.engine'));
  expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);     // never rewritten
  expect(build(e, ['--max-batch-size', '4'])).toMatch(/replacing the existing engine/);
  // The engine's own bytes: the fast path checks sizes, --rehash every byte.
  const f = join(e, 'generation_config.json');
  writeFileSync(f, readFileSync(f, 'utf8').replace('"', ' '));
  expect(build(e, ['--max-batch-size', '4', '--rehash'])).toMatch(/has the same key but generation_config.json has the recorded size but its sha256 differs .*: building it again/);
  expect(llmc(['verify', e, '--integrity']).code).toBe(0);
});

test('--cache-dir: stored by key, reused by hard links from another build, a corrupt entry rebuilt; ls and prune', () => {
  const cache = join(work, 'cache');
  expect(build(join(work, 'c1'), ['--cache-dir', cache])).toMatch(/cache: stored as [0-9a-f]{16} in .* \(hard links\)/);
  const out = build(join(work, 'c2'), ['--cache-dir', cache]);
  expect(out).toMatch(/reused cache entry [0-9a-f]{16} from .* \(hard links\)/);
  expect(out).not.toMatch(/wrote /);
  expectSameBytes(join(work, 'c1'), join(work, 'c2'));
  const ls = llmc(['cache', 'ls', '--cache-dir', cache]);
  expect(ls.stdout).toMatch(/^[0-9a-f]{16} +\d+ KiB +\S+ +LlamaForCausalLM float32 cpu$/m);
  expect(ls.stdout).toMatch(/1 engines, /);
  // Corrupt the entry (a byte of its weights): the next build notices, rebuilds, and stores a good entry again.
  const [key] = readdirSync(cache).filter((n) => /^[0-9a-f]{64}$/.test(n));
  const entryEngine = join(cache, key, 'rank0.engine');
  const bytes = readFileSync(entryEngine);
  bytes[bytes.length - 1] ^= 0xff;
  rmSync(entryEngine);                       // a new inode: c1 and c2 keep their good copies
  writeFileSync(entryEngine, bytes);
  const again = build(join(work, 'c3'), ['--cache-dir', cache]);
  expect(again).toMatch(/cache entry [0-9a-f]{16} is corrupt \(rank0.engine has the recorded size but its sha256 differs.*\): removing it and building again/);
  expect(again).toMatch(/wrote /);
  expect(llmc(['verify', join(cache, key), '--integrity']).code).toBe(0);
  expect(llmc(['verify', join(work, 'c3'), '--integrity']).code).toBe(0);
  const pr = llmc(['cache', 'prune', '--cache-dir', cache, '--max-bytes', '0']);
  expect(pr.stdout).toMatch(/removed [0-9a-f]{16}/);
  expect(pr.stdout).toMatch(/kept 0 engines/);
  expect(existsSync(join(cache, key))).toBe(false);
  expectCleanError(llmc(['cache', 'prune', '--cache-dir', cache, '--max-bytes', 'lots']), /must be a byte count like 20G/);
});

test('verify --integrity: every file checked, the first mismatch named', () => {
  const e = join(work, 'integ');
  build(e);
  const ok = llmc(['verify', e, '--integrity']);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/ok: 2 files and the manifest match their checksums/);
  const m = join(e, 'config.json');
  const text = readFileSync(m, 'utf8');
  writeFileSync(m, text.replace('"max_batch_size": 8', '"max_batch_size": 9'));
  let r = llmc(['verify', e, '--integrity']);
  expect(r.code).toBe(3);
  expect(r.stdout).toMatch(/FAIL: config.json was changed after the build/);
  writeFileSync(m, text);
  truncateSync(join(e, 'rank0.engine'), 8192);
  r = llmc(['verify', e, '--integrity', '--json']);
  expect(r.code).toBe(3);
  expect(JSON.parse(r.stdout).problem).toMatch(/^rank0.engine has 8192 bytes; the manifest records \d+ \(truncated or replaced\)$/);
  rmSync(join(e, 'generation_config.json'));
  expect(llmc(['verify', e, '--integrity']).stdout).toMatch(/BAD +generation_config.json \(0 bytes: missing\)/);
  const old = JSON.parse(text);
  delete old.integrity;
  writeFileSync(m, JSON.stringify(old));
  expectCleanError(llmc(['verify', e, '--integrity']), /records no file checksums .*; rebuild it to get them/);
});

test('llmc diff: dtype change, per-weight deltas, plan nodes; engines of different models said plainly', () => {
  const a = join(work, 'd32'), b = join(work, 'd16'), g = join(work, 'gpt2');
  build(a);
  build(b, ['--dtype', 'float16']);
  const r = llmc(['diff', a, b]);
  expect(r.code).toBe(3);
  expect(r.stdout).toMatch(/build\.dtype: "float32" -> "float16"/);
  expect(r.stdout).toMatch(/weights_bytes: \d+ -> \d+/);
  expect(r.stdout).toMatch(/l0\.qkv\.weight \[128, 64\] f32 -> f16: max abs diff \d\.\d+e-4/);
  const j = JSON.parse(llmc(['diff', a, b, '--json']).stdout);
  expect(j.weights.changed).toHaveLength(15);        // all but rope.inv_freq (stored f32 in both)
  expect(j.nodes).toEqual({ added: [], removed: [], changed: [] });
  expect(llmc(['build', loadFixture('gpt2').modelDir, '-o', g]).code).toBe(0);
  const m = llmc(['diff', a, g]);
  expect(m.code).toBe(3);
  expect(m.stdout).toMatch(/these are engines of different models: .* is LlamaForCausalLM, 2 layers.* is GPT2LMHeadModel/);
  expect(m.stdout).toMatch(/different models: plan, memory plan and weights not compared/);
  expectCleanError(llmc(['diff', a, join(work, 'nope')]), /does not exist/);
});

const nvcc = (() => { try { return findNvcc(); } catch { return null; } })();
(nvcc ? test : test.skip)('--target cuda: two builds (each compiling its own fatbin) are byte-identical', () => {
  const kernels = join(repoRoot, 'test', 'fixtures', 'cuda', 'kernels');
  const a = join(work, 'cu1'), b = join(work, 'cu2');
  build(a, ['--target', 'cuda', '--cuda-arch', 'sm_80'], { LLMC_CUDA_KERNELS: kernels, LLMC_CACHE_DIR: join(work, 'fb1') });
  build(b, ['--target', 'cuda', '--cuda-arch', 'sm_80'], { LLMC_CUDA_KERNELS: kernels, LLMC_CACHE_DIR: join(work, 'fb2') });
  expect(filesOf(a)).toContain('kernels/llmc.fatbin');
  expectSameBytes(a, b);
}, 300_000);
