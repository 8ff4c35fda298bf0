// npm run fuzz -- --target NAME|all --runs N [--seed S] [--jobs J] [--timeout-ms T] [--only I] [--out DIR] [--json] [--progress-s S] [--list]
// Seeded and reproducible: input i of a target is a pure function of (seed, target, i). Each input runs under a
// time bound (a hang is a finding); findings are written to DIR (default fuzz-findings/) with the input's files,
// and the exit code is 1 when there is any. docs/hardening.md has the figures and how to turn a finding into a
// regression test (test/fuzz/regressions).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TARGETS, targetByName } from './targets/index.js';
import { describeError, isCleanRejection, makeCase, S, serializeCase, type Finding } from './worker.js';
import { clearDir } from './worker.js';
import { scratchRoot } from './corpus.js';
import type { FuzzCase, FuzzTarget } from './target.js';

interface Options { targets: FuzzTarget[]; runs: number; seed: number; timeoutMs: number; only: number | null; out: string; json: boolean; progressS: number; jobs: number }

export interface TargetReport {
  target: string; seed: number; runs: number; accepted: number; rejected: number; findings: number; hangs: number;
  crashes: number; seconds: number; per_second: number; signatures: string[];
}

function usage(msg: string): never {
  process.stderr.write(`error: ${msg}; usage: npm run fuzz -- --target NAME|all --runs N [--seed S] [--jobs J] [--timeout-ms T] [--only I] [--out DIR] [--json] (targets: ${TARGETS.map((t) => t.name).join(', ')})\n`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const o: Options = { targets: [...TARGETS], runs: 1000, seed: 1, timeoutMs: 10_000, only: null, out: resolve('fuzz-findings'), json: false, progressS: 0, jobs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    const int = (min: number): number => {
      const v = Number(value());
      if (!Number.isSafeInteger(v) || v < min) usage(`${a} must be an integer >= ${min}`);
      return v;
    };
    if (a === '--target') {
      const names = value().split(',');
      o.targets = names.includes('all') ? [...TARGETS] : names.map((n) => targetByName(n) ?? usage(`unknown target ${n}`));
    } else if (a === '--runs') o.runs = int(1);
    else if (a === '--seed') o.seed = int(0);
    else if (a === '--timeout-ms') o.timeoutMs = int(1);
    else if (a === '--only') o.only = int(0);
    else if (a === '--out') o.out = resolve(value());
    else if (a === '--progress-s') o.progressS = int(1);
    else if (a === '--jobs') o.jobs = int(1);
    else if (a === '--json') o.json = true;
    else if (a === '--list') {
      for (const t of TARGETS) process.stdout.write(`${t.name.padEnd(22)} ${t.what}\n`);
      process.exit(0);
    } else usage(`unknown argument ${a}`);
  }
  return o;
}

function saveFinding(o: Options, target: string, f: Finding): string {
  const dir = join(o.out, target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `seed${o.seed}-input${f.index}-${f.kind}.json`);
  writeFileSync(file, JSON.stringify({ target, seed: o.seed, ...f }, null, 2) + '\n');
  return file;
}

/** Rebuilds input `index` in this thread (for a hang or a crash, whose worker is gone). */
async function regenerate(t: FuzzTarget, seed: number, index: number) {
  return serializeCase(makeCase(t, await t.corpus(), seed, index));
}

/** Runs inputs [0, runs) of one target in `jobs` workers (contiguous ranges, so the inputs are the same for any --jobs). */
async function fuzzTarget(t: FuzzTarget, o: Options): Promise<TargetReport> {
  const started = performance.now();
  const report: TargetReport = { target: t.name, seed: o.seed, runs: 0, accepted: 0, rejected: 0, findings: 0, hangs: 0, crashes: 0, seconds: 0, per_second: 0, signatures: [] };
  const signatures = new Set<string>();
  const record = (f: Finding) => {
    if (signatures.has(f.signature)) return;
    signatures.add(f.signature);
    const file = saveFinding(o, t.name, f);
    if (!o.json) process.stderr.write(`fuzz ${t.name}: ${f.kind} at input ${f.index}: ${f.signature}\n  saved ${file}\n`);
  };
  const jobs = Math.min(o.jobs, o.runs);
  const bounds = Array.from({ length: jobs + 1 }, (_, j) => Math.round((o.runs * j) / jobs));
  const live = new Set<Int32Array>();   // the progress slots of the workers running now
  const sum = (slot: number) => [...live].reduce((n, st) => n + Atomics.load(st, slot), 0);
  const progress = o.progressS > 0 ? setInterval(() => {
    process.stderr.write(`fuzz ${t.name}: ${report.runs + sum(S.done)} inputs so far, ${report.findings + sum(S.findings)} exceptions, ` +
      `${report.hangs} hangs, ${report.crashes} crashes (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  }, o.progressS * 1000) : null;
  try {
    await Promise.all(bounds.slice(0, -1).map((start, j) => fuzzRange(t, o, start, bounds[j + 1], report, record, live)));
  } finally {
    if (progress) clearInterval(progress);
  }
  report.seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  report.per_second = Math.round(report.runs / Math.max(report.seconds, 0.001));
  report.signatures = [...signatures].sort();   // the same for any --jobs
  return report;
}

/** Runs inputs [start, end) of one target in a worker; restarts it after a hang or a crash. */
async function fuzzRange(t: FuzzTarget, o: Options, start: number, end: number, report: TargetReport, record: (f: Finding) => void, live: Set<Int32Array>): Promise<void> {
  while (start < end) {
    const shared = new SharedArrayBuffer(4 * 8);
    const state = new Int32Array(shared);
    Atomics.store(state, S.index, start);
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { target: t.name, seed: o.seed, start, end, shared },
      resourceLimits: { maxOldGenerationSizeMb: 4096 },
      stdout: true, stderr: true,
    });
    live.add(state);
    const outcome = await new Promise<{ kind: 'done' | 'hang' | 'crash' | 'fatal'; error?: string }>((resolveOutcome) => {
      let lastIndex = -1;
      let since = performance.now();
      const timer = setInterval(() => {
        const i = Atomics.load(state, S.index);
        const busy = Atomics.load(state, S.busy) === 1;
        if (i !== lastIndex || !busy) {
          lastIndex = i;
          since = performance.now();
        } else if (performance.now() - since > o.timeoutMs) {
          clearInterval(timer);
          void worker.terminate();
          resolveOutcome({ kind: 'hang' });
        }
      }, 100);
      worker.on('message', (m: { type: string; finding?: Finding; error?: string }) => {
        if (m.type === 'finding') record(m.finding!);
        if (m.type === 'done') { clearInterval(timer); resolveOutcome({ kind: 'done' }); }
        if (m.type === 'fatal') { clearInterval(timer); resolveOutcome({ kind: 'fatal', error: m.error }); }
      });
      worker.on('error', (e) => { clearInterval(timer); resolveOutcome({ kind: 'crash', error: describeError(e).error }); });
      worker.on('exit', (code) => { clearInterval(timer); resolveOutcome(code === 0 ? { kind: 'done' } : { kind: 'crash', error: `worker exited with code ${code}` }); });
    });
    report.accepted += Atomics.load(state, S.accepted);
    report.rejected += Atomics.load(state, S.rejected);
    report.findings += Atomics.load(state, S.findings);
    const done = Atomics.load(state, S.done);
    report.runs += done;
    live.delete(state);
    if (outcome.kind === 'done') break;
    if (outcome.kind === 'fatal') {
      throw new Error(`fuzz target ${t.name} could not start: ${outcome.error}`);
    }
    const index = Atomics.load(state, S.index);
    const f: Finding = outcome.kind === 'hang'
      ? { index, kind: 'hang', error: `input ran longer than ${o.timeoutMs} ms`, signature: `hang at input ${index}` }
      : { index, kind: 'crash', error: outcome.error ?? 'worker died', signature: `crash: ${(outcome.error ?? '').split('\n')[0]}` };
    try {
      f.case = await regenerate(t, o.seed, index);
    } catch {
      // the mutator itself failed on this input: the finding keeps seed and index (replay with --only)
    }
    if (outcome.kind === 'hang') report.hangs++;
    else report.crashes++;
    report.runs++;
    record(f);
    start = index + 1;
  }
}

/** --only I: input I in this thread, printing the error in full (the replay of a saved finding). */
async function replay(t: FuzzTarget, o: Options): Promise<boolean> {
  let c: FuzzCase;
  try {
    c = makeCase(t, await t.corpus(), o.seed, o.only!);
  } catch (e) {
    process.stdout.write(`fuzz ${t.name} seed ${o.seed} input ${o.only}: FINDING in the mutator: ${describeError(e).error}\n`);
    return false;
  }
  const dir = scratchRoot(`${t.name}-replay`);
  clearDir(dir);
  try {
    await t.run(c, dir);
    process.stdout.write(`fuzz ${t.name} seed ${o.seed} input ${o.only}: accepted\n`);
    return true;
  } catch (e) {
    const clean = isCleanRejection(t, e);
    process.stdout.write(`fuzz ${t.name} seed ${o.seed} input ${o.only}: ${clean ? 'rejected' : 'FINDING'}: ${clean ? (e as Error).message : describeError(e).error}\n`);
    return clean;
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.only !== null) {
    let ok = true;
    for (const t of o.targets) ok = (await replay(t, o)) && ok;
    process.exitCode = ok ? 0 : 1;
    return;
  }
  const reports: TargetReport[] = [];
  for (const t of o.targets) {
    const r = await fuzzTarget(t, o);
    reports.push(r);
    if (!o.json) {
      process.stdout.write(`fuzz ${r.target.padEnd(20)} seed ${r.seed}: ${r.runs} inputs in ${r.seconds} s (${r.per_second}/s): ` +
        `${r.accepted} accepted, ${r.rejected} rejected with an error, ${r.findings} exceptions, ${r.hangs} hangs, ${r.crashes} crashes\n`);
    }
  }
  if (o.json) process.stdout.write(`${JSON.stringify(reports)}\n`);
  const bad = reports.some((r) => r.findings + r.hangs + r.crashes > 0);
  if (bad && !o.json) process.stdout.write(`fuzz: findings saved under ${o.out}\n`);
  process.exitCode = bad ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
