// The fuzz loop, in a child process so the parent can bound every input in time (a hang is killed and reported)
// and survive whatever kills the process: out of memory, a V8 abort ("invalid size error" on a huge array, found
// by the quant-checkpoint target), a native crash. A worker thread cannot give that: a V8 abort ends every thread
// of its process. Progress goes through a small file the parent reads (two writes per input, no message per input),
// so the parent knows which input was running when the child died.
import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlmcError } from '../errors.js';
import { scratchRoot } from './corpus.js';
import { Rng } from './rng.js';
import { mutateFiles, type FuzzCase, type FuzzTarget } from './target.js';
import { targetByName } from './targets/index.js';

/** Slots of the progress record. */
export const S = { index: 0, busy: 1, done: 2, accepted: 3, rejected: 4, findings: 5 } as const;
const SLOTS = 6;

/** A child's progress record: six int32 slots in a file, written by the child, read by the parent. */
export class Progress {
  readonly slots = new Int32Array(SLOTS);
  private readonly bytes = Buffer.from(this.slots.buffer);
  private constructor(private readonly fd: number) {}
  static create(file: string, index: number): Progress {
    const p = new Progress(openSync(file, 'w+'));
    p.slots[S.index] = index;
    p.flush();
    return p;
  }
  static open(file: string): Progress { return new Progress(openSync(file, 'r+')); }
  get(slot: number): number { return this.slots[slot]; }
  set(slot: number, v: number): void { this.slots[slot] = v; }
  add(slot: number, d: number): void { this.slots[slot] += d; }
  flush(): void { writeSync(this.fd, this.bytes, 0, this.bytes.length, 0); }
  /** The parent: the child's latest record. */
  refresh(): this {
    readSync(this.fd, this.bytes, 0, this.bytes.length, 0);
    return this;
  }
  close(): void { closeSync(this.fd); }
}

export interface WorkerInput { target: string; seed: number; start: number; end: number; progress: string }
/** Messages from the child: a finding, the end of its range, or a target that could not start. */
export type WorkerMessage = { type: 'finding'; finding: Finding } | { type: 'done' } | { type: 'fatal'; error: string };
export const workerScript = fileURLToPath(import.meta.url);
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
  const state = Progress.open(input.progress);
  // Waits until the message is written: a finding carries the input's files (often more than a pipe buffer), and an
  // input loop that only awaits settled promises never lets the event loop flush a queued write.
  const send = (m: WorkerMessage) => new Promise<void>((done) => process.send!(m, undefined, {}, () => done()));
  // Parsers under test may print (commander's help, warnings): keep the fuzzer's output to its own report.
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  const corpus = await t.corpus();
  const dir = scratchRoot(`${t.name}-${input.start}`);
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  const finish = () => {
    state.set(S.busy, 0);
    state.add(S.done, 1);
    state.flush();
  };
  try {
    for (let i = input.start; i < input.end; i++) {
      state.set(S.index, i);
      state.set(S.busy, 1);
      state.flush();
      let c: FuzzCase;
      try {
        c = makeCase(t, corpus, input.seed, i);
      } catch (e) {
        // A bug in the fuzzer, not in the code under test: reported like a finding and the run goes on (it used to
        // end the whole run as 'could not start').
        state.add(S.findings, 1);
        const d = describeError(e);
        const signature = `mutator: ${d.signature}`;
        if (!seen.has(signature)) {
          seen.add(signature);
          await send({ type: 'finding', finding: { index: i, kind: 'mutator', error: d.error, signature } });
        }
        finish();
        continue;
      }
      clearDir(dir);
      try {
        await t.run(c, dir);
        state.add(S.accepted, 1);
      } catch (e) {
        if (isCleanRejection(t, e)) {
          state.add(S.rejected, 1);
        } else {
          state.add(S.findings, 1);
          const d = describeError(e);
          if (!seen.has(d.signature)) {
            seen.add(d.signature);
            await send({ type: 'finding', finding: { index: i, kind: 'exception', ...d, case: serializeCase(c) } });
          }
        }
      }
      finish();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Started by the parent (main.ts) as `node worker.js JSON` with an IPC channel.
if (process.send && process.argv[1] === workerScript) {
  const input = JSON.parse(process.argv[2]) as WorkerInput;
  const last = (m: WorkerMessage) => process.send!(m, () => process.disconnect());
  main(input).then(() => last({ type: 'done' }), (e) => last({ type: 'fatal', error: describeError(e).error }));
}
