// The fuzz loop, in a worker thread so the main thread can bound every input in time (a hang is terminated and
// reported) and survive an out-of-memory input. Progress goes through a SharedArrayBuffer (no message per input).
import { mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { LlmcError } from '../errors.js';
import { scratchRoot } from './corpus.js';
import { Rng } from './rng.js';
import { mutateFiles, type FuzzCase, type FuzzTarget } from './target.js';
import { targetByName } from './targets/index.js';

/** Slots of the shared Int32Array. */
export const S = { index: 0, busy: 1, done: 2, accepted: 3, rejected: 4, findings: 5 } as const;

export interface WorkerInput { target: string; seed: number; start: number; end: number; shared: SharedArrayBuffer }
/** exception/hang/crash: the code under test; mutator: the fuzzer's own mutator threw (no case to save, replay with --only). */
export interface Finding { index: number; kind: 'exception' | 'hang' | 'crash' | 'mutator'; error: string; signature: string; case?: SerializedCase }
export interface SerializedCase { files: Record<string, string>; argv?: string[]; tag?: string }

export function serializeCase(c: FuzzCase): SerializedCase {
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.files)) files[k] = v.toString('base64');
  return { files, ...(c.argv ? { argv: c.argv } : {}), ...(c.tag ? { tag: c.tag } : {}) };
}

export function deserializeCase(s: SerializedCase): FuzzCase {
  const files: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(s.files)) files[k] = Buffer.from(v, 'base64');
  return { files, ...(s.argv ? { argv: s.argv } : {}), ...(s.tag ? { tag: s.tag } : {}) };
}

/** Input `index` of `target` under `seed` (what --only replays). */
export function makeCase(t: FuzzTarget, corpus: readonly FuzzCase[], seed: number, index: number): FuzzCase {
  const rng = Rng.forInput(seed, t.name, index);
  const base = rng.pick(corpus);
  if (index === 0 || rng.chance(0.02)) return base;  // the unmutated corpus must pass too
  return (t.mutate ?? mutateFiles)(rng, base, corpus);
}

/** True when `e` is a clean rejection (the project's one-line error). */
export function isCleanRejection(t: FuzzTarget, e: unknown): boolean {
  return e instanceof LlmcError || (t.accepts?.(e) ?? false);
}

/** Error text and a signature (first line + first project frame) to group findings. */
export function describeError(e: unknown): { error: string; signature: string } {
  const err = e instanceof Error ? e : new Error(String(e));
  const stack = err.stack ?? `${err.name}: ${err.message}`;
  const frame = stack.split('\n').find((l) => l.includes('/dist/') || l.includes('/src/'))?.trim() ?? '';
  return { error: stack.slice(0, 4000), signature: `${err.name}: ${err.message.slice(0, 120)} @ ${frame.replace(/:\d+\)?$/, '')}` };
}

export function clearDir(dir: string): void {
  for (const name of readdirSync(dir)) {
    try {
      unlinkSync(join(dir, name));
    } catch {
      rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
}

async function main(input: WorkerInput): Promise<void> {
  const t = targetByName(input.target)!;
  const state = new Int32Array(input.shared);
  // Parsers under test may print (commander's help, warnings): keep the fuzzer's output to its own report.
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  const corpus = await t.corpus();
  const dir = scratchRoot(`${t.name}-${input.start}`);
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  try {
    for (let i = input.start; i < input.end; i++) {
      Atomics.store(state, S.index, i);
      Atomics.store(state, S.busy, 1);
      let c: FuzzCase;
      try {
        c = makeCase(t, corpus, input.seed, i);
      } catch (e) {
        // A bug in the fuzzer, not in the code under test: reported like a finding and the run goes on (it used to
        // end the whole run as 'could not start').
        Atomics.add(state, S.findings, 1);
        const d = describeError(e);
        const signature = `mutator: ${d.signature}`;
        if (!seen.has(signature)) {
          seen.add(signature);
          parentPort!.postMessage({ type: 'finding', finding: { index: i, kind: 'mutator', error: d.error, signature } satisfies Finding });
        }
        Atomics.store(state, S.busy, 0);
        Atomics.add(state, S.done, 1);
        continue;
      }
      clearDir(dir);
      try {
        await t.run(c, dir);
        Atomics.add(state, S.accepted, 1);
      } catch (e) {
        if (isCleanRejection(t, e)) {
          Atomics.add(state, S.rejected, 1);
        } else {
          Atomics.add(state, S.findings, 1);
          const d = describeError(e);
          if (!seen.has(d.signature)) {
            seen.add(d.signature);
            const f: Finding = { index: i, kind: 'exception', ...d, case: serializeCase(c) };
            parentPort!.postMessage({ type: 'finding', finding: f });
          }
        }
      }
      Atomics.store(state, S.busy, 0);
      Atomics.add(state, S.done, 1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  parentPort!.postMessage({ type: 'done' });
}

if (parentPort && workerData) {
  main(workerData as WorkerInput).catch((e) => parentPort!.postMessage({ type: 'fatal', error: describeError(e).error }));
}
