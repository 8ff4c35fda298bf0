// What a fuzz target is: a corpus of real files (test fixtures, examples), a mutator, and a function that feeds
// one mutated case to the parser under test. The contract every target checks: the parser returns, or throws the
// project's one-line error (LlmcError; commander's usage errors for the CLI). Anything else is a finding.
import { mutateBytes } from './mutate-bytes.js';
import { mutateJsonText } from './mutate-json.js';
import type { Rng } from './rng.js';

/** One input: the files a parser reads (name -> bytes), and for the CLI an argv. */
export interface FuzzCase {
  files: Record<string, Buffer>;
  argv?: string[];
  /** Side data a target keeps next to its corpus entry (not mutated, e.g. the tensor table of a config's model). */
  tag?: string;
}

export interface FuzzTarget {
  name: string;
  what: string;
  /** The seed inputs; called once per process. */
  corpus(): FuzzCase[] | Promise<FuzzCase[]>;
  /** A new case from `base` (never mutated in place); default: mutateFiles. */
  mutate?(rng: Rng, base: FuzzCase, corpus: readonly FuzzCase[]): FuzzCase;
  /** Feeds one case to the code under test; `dir` is an empty scratch directory for files. */
  run(c: FuzzCase, dir: string): void | Promise<void>;
  /** Errors that are a clean rejection for this target besides LlmcError. */
  accepts?(e: unknown): boolean;
}

export type FileMutator = (rng: Rng, name: string, bytes: Buffer, others: readonly Buffer[]) => Buffer;

/** JSON files get structure-aware mutation most of the time, everything gets a byte-level pass some of the time. */
export function mutateFile(rng: Rng, name: string, bytes: Buffer, others: readonly Buffer[]): Buffer {
  let out = bytes;
  if (name.endsWith('.json') && rng.chance(0.75)) {
    const text = mutateJsonText(rng, bytes.toString('utf8'));
    if (text !== null) out = Buffer.from(text, 'utf8');
    if (rng.chance(0.8)) return out;
  }
  for (let k = rng.count(3); k > 0; k--) out = mutateBytes(rng, out, others);
  return out;
}

/** Mutates one or two files of the case with `fileMutator`; sometimes deletes a file. */
export function mutateFiles(rng: Rng, base: FuzzCase, corpus: readonly FuzzCase[], fileMutator: FileMutator = mutateFile): FuzzCase {
  const files = { ...base.files };
  const names = Object.keys(files);
  for (let k = rng.chance(0.8) ? 1 : 2; k > 0 && names.length; k--) {
    const name = names.splice(rng.int(names.length), 1)[0];
    if (rng.chance(0.03)) {
      delete files[name];
      continue;
    }
    const others = corpus.map((c) => c.files[name]).filter((b): b is Buffer => b !== undefined);
    files[name] = fileMutator(rng, name, files[name], others);
  }
  return { ...base, files };
}
