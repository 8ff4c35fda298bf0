// npm run fuzz -- --target NAME|all --runs N [--seed S] [--jobs J] [--timeout-ms T] [--only I] [--out DIR] [--json] [--progress-s S] [--list]
// Seeded and reproducible: input i of a target is a pure function of (seed, target, i). Each input runs under a
// time bound (a hang is a finding); findings are written to DIR (default fuzz-findings/) with the input's files,
// and the exit code is 1 when there is any. docs/hardening.md has the figures and how to turn a finding into a
// regression test (test/fuzz/regressions).
import { fork } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TARGETS, targetByName } from './targets/index.js';
import { describeError, isCleanRejection, makeCase, Progress, S, serializeCase, workerScript, type Finding, type WorkerInput, type WorkerMessage } from './worker.js';
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
  const live = new Set<Progress>();   // the progress records of the children running now
  const sum = (slot: number) => [...live].reduce((n, st) => n + st.refresh().get(slot), 0);
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

/** Runs inputs [start, end) of one target in a child process; starts another after a hang or a crash. */
async function fuzzRange(t: FuzzTarget, o: Options, start: number, end: number, report: TargetReport, record: (f: Finding) => void, live: Set<Progress>): Promise<void> {
  const scratch = scratchRoot(`progress-${t.name}-${start}`);
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, 'progress');
  try {
    while (start < end) {
      const state = Progress.create(file, start);
      const input: WorkerInput = { target: t.name, seed: o.seed, start, end, progress: file };
      const child = fork(workerScript, [JSON.stringify(input)], {
        execArgv: ['--max-old-space-size=4096'], stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: process.env,
      });
      live.add(state);
      const outcome = await new Promise<{ kind: 'done' | 'hang' | 'crash' | 'fatal'; error?: string }>((resolveOutcome) => {
        let settled: { kind: 'done' | 'hang' | 'crash' | 'fatal'; error?: string } | null = null;
        const settle = (r: typeof settled) => { if (!settled) settled = r; };
        let lastIndex = -1;
        let since = performance.now();
        const timer = setInterval(() => {
          state.refresh();
          const i = state.get(S.index);
          const busy = state.get(S.busy) === 1;
          if (i !== lastIndex || !busy) {
            lastIndex = i;
            since = performance.now();
          } else if (performance.now() - since > o.timeoutMs) {
            settle({ kind: 'hang' });
            child.kill('SIGKILL');
          }
        }, 100);
        child.on('message', (m: WorkerMessage) => {
          if (m.type === 'finding') record(m.finding);
          if (m.type === 'done') settle({ kind: 'done' });
          if (m.type === 'fatal') settle({ kind: 'fatal', error: m.error });
        });
        child.on('error', (e) => settle({ kind: 'crash', error: describeError(e).error }));
        // Only 'exit' ends the wait: every message has arrived by then, and the progress record is final.
        child.on('exit', (code, signal) => {
          clearInterval(timer);
          settle({ kind: 'crash', error: signal ? `worker killed by ${signal}` : `worker exited with code ${code}` });
          resolveOutcome(settled!);
        });
      });
      state.refresh();
      live.delete(state);
      state.close();
      report.accepted += state.get(S.accepted);
      report.rejected += state.get(S.rejected);
      report.findings += state.get(S.findings);
      report.runs += state.get(S.done);
      if (outcome.kind === 'done') break;
      if (outcome.kind === 'fatal') {
        throw new Error(`fuzz target ${t.name} could not start: ${outcome.error}`);
      }
      const index = state.get(S.index);
      const f: Finding = outcome.kind === 'hang'
        ? { index, kind: 'hang', error: `input ran longer than ${o.timeoutMs} ms`, signature: `hang at input ${index}` }
        : { index, kind: 'crash', error: outcome.error ?? 'worker died', signature: `crash: ${(outcome.error ?? '').split('\n')[0]} at input ${index}` };
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
  } finally {
    rmSync(scratch, { recursive: true, force: true });
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
