// Where the fuzz corpus comes from: the real files of the repository (the golden HF fixtures, the kjv-tiny example,
// the llama3 tokenizer the tests use) and engines built from them. Nothing is generated from nothing.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FORMAT_VERSION } from '../compiler/engine/format.generated.js';
import { SCHEMA_HASH } from '../compiler/ir/ops.generated.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const goldenDir = join(repoRoot, 'test', 'fixtures', 'golden');

/** [name, absolute model directory] of every golden fixture. */
export function fixtureModels(): [string, string][] {
  return readdirSync(goldenDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(goldenDir, d.name, 'model', 'config.json')))
    .map((d) => [d.name, join(goldenDir, d.name, 'model')] as [string, string])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

/** The files of a directory (not recursive) as name -> bytes. */
export function readDirFiles(dir: string, only?: (name: string) => boolean): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of readdirSync(dir).sort()) {
    if (only && !only(name)) continue;
    out[name] = readFileSync(join(dir, name));
  }
  return out;
}

/** Writes a case's files into the (empty) scratch directory. */
export function writeFiles(dir: string, files: Record<string, Buffer>): void {
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
}

/** A fresh, empty directory; tmpfs (/dev/shm) when there is one, as the fuzzer writes every input. */
export function scratchRoot(label: string): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = join(base, `llmc-fuzz-${label}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

const engineCache = () => join(tmpdir(), `llmc-fuzz-engines-${SCHEMA_HASH}-f${FORMAT_VERSION}`);

/** An engine built once per op schema and format version into the cache, by `build(outDir)`; returns its dir. */
export async function cachedEngine(name: string, build: (outDir: string) => Promise<unknown>): Promise<string> {
  const dir = join(engineCache(), name.replace(/[^a-z0-9_-]/gi, '_'));
  if (!existsSync(join(dir, 'config.json'))) {
    // Built under a name of this process's own, then renamed: fuzzers started together never share a build.
    const mine = `${dir}.${process.pid}`;
    await build(mine);
    try {
      renameSync(mine, dir);
    } catch {
      rmSync(mine, { recursive: true, force: true });  // another process got there first: use its engine
    }
  }
  return dir;
}

/** Engines built from fixtures, cached per op schema (a corpus of real rank0.engine files and manifests). */
export async function fixtureEngines(names: readonly string[]): Promise<[string, string][]> {
  const { buildEngine } = await import('../compiler/build.js');
  const out: [string, string][] = [];
  for (const name of names) {
    const dummy = name.startsWith('dummy:');
    out.push([name, await cachedEngine(name, (outDir) => buildEngine(dummy
      ? { dummyWeights: true, config: name.slice(6), outDir, force: true, maxSeqLen: 256 }
      : { modelDir: join(goldenDir, name, 'model'), outDir, force: true }))]);
  }
  return out;
}
