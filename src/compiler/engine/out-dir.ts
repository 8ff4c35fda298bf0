// The engine directory is written atomically: everything goes to a temp directory next to it, which is renamed
// into place at the end, so a failed or interrupted build never leaves half an engine (or destroys the old one).
// A non-empty directory that is not an llmc engine is only replaced with --force.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { fail } from '../../errors.js';
import { ENGINE_FILE, MANIFEST_FILE } from './format.js';
import { faultPoint } from './fault-hooks.js';
import { parseJson } from '../../json-depth.js';

export type OutDirState = 'absent' | 'empty' | 'engine' | 'other';

export function outDirState(dir: string): OutDirState {
  if (!existsSync(dir)) return 'absent';
  if (!statSync(dir).isDirectory()) return 'other';
  const entries = readdirSync(dir);
  if (entries.length === 0) return 'empty';
  return isEngineDir(dir) ? 'engine' : 'other';
}

export function isEngineDir(dir: string): boolean {
  try {
    const m = parseJson(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
    return typeof m.format_version === 'number' && typeof m.schema_hash === 'string' && existsSync(join(dir, ENGINE_FILE));
  } catch {
    return false;
  }
}

/** Refuses to overwrite something that is not an engine unless `force`; says what it will replace. */
export function checkOutDir(dirArg: string, force: boolean, log: (line: string) => void): string {
  const dir = resolve(dirArg);
  const state = outDirState(dir);
  if (state === 'other' && !force) fail('EXISTS', `${dir} exists and is not empty; pass --force to overwrite`);
  if (state === 'other') log(`overwriting ${dir} (--force): it is not an llmc engine`);
  if (state === 'engine') log(`replacing the existing engine in ${dir}`);
  return dir;
}

/** A fresh temp directory beside `dir` (same filesystem, so the final rename is atomic). */
export function makeTempDir(dir: string): string {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.llmc-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  return tmp;
}

/** Moves the finished temp directory to `dir`, replacing what is there. */
export function commitTempDir(tmp: string, dir: string): void {
  if (!existsSync(dir)) {
    renameSync(tmp, dir);
    return;
  }
  const old = `${tmp}-old`;
  renameSync(dir, old);
  faultPoint('commit');            // killed here, the next build (build-lock.ts) moves `old` back
  try {
    renameSync(tmp, dir);
  } catch (e) {
    renameSync(old, dir);          // put the previous contents back
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}
