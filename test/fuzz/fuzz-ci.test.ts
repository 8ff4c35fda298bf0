// The CI run of the fuzzers (docs/hardening.md): a short, fixed-seed run of every target through the real
// `npm run fuzz` entry point (dist/fuzz/main.js, built by npm test's tsc). Any exception that is not the
// project's one-line error, any hang and any crash fails it; the findings are written under a temp dir.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers/cli.js';

const RUNS = 800;   // per target: about 30 s for all of them on a 2-core CI machine

test(`every fuzz target, seed 1, ${RUNS} inputs each: no exception, hang or crash`, () => {
  const out = tempDir('llmc-fuzz-ci-');
  const targets = 'safetensors,safetensors-sharded,hf-config,tokenizer,chat-template,engine,cli,http';
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'fuzz', 'main.js'), '--target', targets, '--runs', String(RUNS),
    '--seed', '1', '--out', out, '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 240_000 });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0) throw new Error(`fuzz failed (exit ${r.status}); findings under ${out}\n${r.stdout}\n${r.stderr}`);
  const reports = JSON.parse(last) as { target: string; runs: number; findings: number; hangs: number; crashes: number; accepted: number; rejected: number }[];
  expect(reports.map((x) => x.target).sort()).toEqual(['chat-template', 'cli', 'engine', 'hf-config', 'http', 'safetensors', 'safetensors-sharded', 'tokenizer']);
  for (const x of reports) {
    expect({ target: x.target, runs: x.runs, bad: x.findings + x.hangs + x.crashes }).toEqual({ target: x.target, runs: RUNS, bad: 0 });
    // A target that rejects everything (a broken corpus) or accepts everything (a mutator that does nothing) tests little.
    expect(x.accepted).toBeGreaterThan(0);
    expect(x.rejected).toBeGreaterThan(0);
  }
}, 300_000);

// A whole `llmc build` per input (~100 ms): fewer inputs.
test('pre-quantized checkpoints, seed 1, 60 inputs: no exception, hang or crash', () => {
  const out = tempDir('llmc-fuzz-ci-quant-');
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'fuzz', 'main.js'), '--target', 'quant-checkpoint', '--runs', '60',
    '--seed', '1', '--out', out, '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`fuzz failed (exit ${r.status}); findings under ${out}\n${r.stdout}\n${r.stderr}`);
  const [x] = JSON.parse((r.stdout ?? '').trim().split('\n').pop()!) as { runs: number; findings: number; hangs: number; crashes: number; accepted: number; rejected: number }[];
  expect({ runs: x.runs, bad: x.findings + x.hangs + x.crashes }).toEqual({ runs: 60, bad: 0 });
  expect(x.accepted).toBeGreaterThan(0);
  expect(x.rejected).toBeGreaterThan(0);
}, 300_000);

type SelfReport = { runs: number; findings: number; hangs: number; crashes: number; accepted: number; rejected: number; seconds: number; per_second: number };

function selfTest(jobs: number): { x: SelfReport; saved: string[]; status: number | null } {
  const out = tempDir('llmc-fuzz-self-');
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'fuzz', 'main.js'), '--target', 'harness-check', '--runs', '20',
    '--seed', '3', '--timeout-ms', '1000', '--jobs', String(jobs), '--out', out, '--json'],
  { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, env: { ...process.env, LLMC_FUZZ_SELFTEST: '1' } });
  const [x] = JSON.parse((r.stdout ?? '').trim().split('\n').pop()!) as SelfReport[];
  return { x, saved: readdirSync(join(out, 'harness-check')), status: r.status };
}

test('the harness reports an exception, a hang, a process abort and a mutator that throws, saves them, and goes on', () => {
  const { x, saved, status } = selfTest(1);
  expect(status).toBe(1);
  expect(x.runs).toBe(20);
  expect(x.findings).toBeGreaterThan(0);
  expect(x.hangs).toBeGreaterThan(0);
  expect(x.crashes).toBeGreaterThan(0);
  expect(x.accepted + x.rejected + x.findings + x.hangs + x.crashes).toBe(20);
  expect(saved.some((f) => f.endsWith('-exception.json'))).toBe(true);
  expect(saved.some((f) => f.endsWith('-hang.json'))).toBe(true);
  expect(saved.some((f) => f.endsWith('-crash.json'))).toBe(true);
  expect(saved.some((f) => f.endsWith('-mutator.json'))).toBe(true);
}, 180_000);

test('--jobs 2 runs the same inputs as --jobs 1 (contiguous ranges, same counts)', () => {
  const one = selfTest(1);
  const two = selfTest(2);
  expect(two.x).toEqual({ ...one.x, seconds: two.x.seconds, per_second: two.x.per_second });
  // one saved file per signature; which input of it comes first depends on the ranges, the kinds do not
  const kinds = (files: string[]) => files.map((f) => f.replace(/^seed\d+-input\d+-/, '')).sort();
  expect(kinds(two.saved)).toEqual(kinds(one.saved));
}, 240_000);
