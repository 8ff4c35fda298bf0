// A cuda engine's fatbin as `llmc inspect` shows it: read from the path the manifest's target names, listed with
// the fatbin parser, and checked against the manifest's fatbin_sha256 (a mismatch means the file was replaced or
// damaged after the build; the runtime would load code the manifest does not describe).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../../errors.js';
import { describeFatbin, parseFatbin, ptxKernelNames, type FatbinEntry } from './fatbin.js';

export interface EngineFatbin {
  file: string;
  bytes: number;
  sha256_ok: boolean;
  entries: { kind: FatbinEntry['kind']; target: string; bytes: number; compression: FatbinEntry['compression'] }[];
  lines: string[];          // describeFatbin
  kernels: string[];
}

/** null for engines without a fatbin (target cpu). */
export function readEngineFatbin(dirArg: string, target: { fatbin?: unknown; fatbin_sha256?: unknown } | undefined): EngineFatbin | null {
  if (typeof target?.fatbin !== 'string') return null;
  const dir = resolve(dirArg);
  const file = join(dir, target.fatbin);
  if (!file.startsWith(dir + '/')) fail('BAD_ENGINE', `the manifest's target.fatbin ${target.fatbin} points outside the engine`);
  if (!existsSync(file)) fail('BAD_ENGINE', `${dir} is a cuda engine without its fatbin (${target.fatbin})`, 'rebuild it with --target cuda --force');
  const buf = readFileSync(file);
  const entries = parseFatbin(buf, file);
  return {
    file,
    bytes: buf.length,
    sha256_ok: createHash('sha256').update(buf).digest('hex') === target.fatbin_sha256,
    entries: entries.map((e) => ({ kind: e.kind, target: e.target, bytes: e.uncompressedSize, compression: e.compression })),
    lines: describeFatbin(entries),
    kernels: [...new Set(entries.flatMap((e) => ptxKernelNames(buf, e)))].sort(),
  };
}
