// The engine cache (`llmc build --cache-dir DIR`, `llmc cache ls|prune`): DIR/<content key>/ is a whole engine
// directory, stored after a build and reused by any later build with the same key (build-key.ts). Entries are
// immutable: they are placed by hard links where the filesystem allows (else copies) and written through a temp
// directory + rename, so a killed build never leaves a half entry under a key. An entry is checked byte by byte
// (its manifest's checksums) before it is reused; a corrupt one is removed and rebuilt, never used. The entry's
// directory mtime is its last use (prune removes the least recently used first).
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { checkIntegrity, engineFiles } from '../engine/integrity.js';
import { MANIFEST_FILE } from '../engine/format.js';
import { commitTempDir, makeTempDir } from '../engine/out-dir.js';

const KEY = /^[0-9a-f]{64}$/;

/** Places every file of `from` into `to` (which must not exist): hard links, or copies across filesystems. */
function placeFiles(from: string, to: string): 'hard links' | 'copies' {
  let linked = true;
  for (const f of [...engineFiles(from), MANIFEST_FILE]) {
    mkdirSync(dirname(join(to, f)), { recursive: true });
    try {
      if (!linked) throw new Error('copy');
      linkSync(join(from, f), join(to, f));
    } catch {
      linked = false;
      copyFileSync(join(from, f), join(to, f));
    }
  }
  return linked ? 'hard links' : 'copies';
}

/** The entry for `key` when it is whole and its bytes match its checksums; a bad one is removed (and said). */
export function cacheLookup(cacheDir: string, key: string, log: (line: string) => void): string | null {
  const entry = join(cacheDir, key);
  if (!existsSync(entry)) return null;
  let problem: string | null = null;
  try {
    const m = JSON.parse(readFileSync(join(entry, MANIFEST_FILE), 'utf8')) as { build_key?: { key?: string } };
    if (m.build_key?.key !== key) problem = 'its manifest records another key';
    else problem = checkIntegrity(entry).problem;
  } catch (e) {
    problem = (e as Error).message;
  }
  if (problem === null) return entry;
  log(`cache entry ${key.slice(0, 16)} is corrupt (${problem}): removing it and building again`);
  rmSync(entry, { recursive: true, force: true });
  return null;
}

/** Puts the cached engine at outDir (atomically, replacing what is there) and marks the entry used. */
export function cacheReuse(entry: string, outDir: string): 'hard links' | 'copies' {
  const tmp = makeTempDir(outDir);
  rmSync(tmp, { recursive: true });
  try {
    const how = placeFiles(entry, tmp);
    commitTempDir(tmp, outDir);
    const now = new Date();
    utimesSync(entry, now, now);
    return how;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Stores a freshly built engine under its key (no-op when another build stored it first). */
export function cacheStore(cacheDir: string, key: string, engineDir: string): 'hard links' | 'copies' | 'present' {
  mkdirSync(cacheDir, { recursive: true });
  const entry = join(cacheDir, key);
  if (existsSync(entry)) return 'present';
  const tmp = join(cacheDir, `.${key}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const how = placeFiles(engineDir, tmp);
    try {
      renameSync(tmp, entry);
    } catch (e) {
      if (existsSync(entry)) return 'present';   // a concurrent build stored the same key
      throw e;
    }
    return how;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface CacheEntry { key: string; dir: string; bytes: number; last_used: string; model: string; dtype: string; backend: string }

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of [...engineFiles(dir), MANIFEST_FILE]) {
    try { n += statSync(join(dir, f)).size; } catch { /* a half-removed entry */ }
  }
  return n;
}

export function listCache(cacheDir: string): CacheEntry[] {
  if (!existsSync(cacheDir)) return [];
  const out: CacheEntry[] = [];
  for (const name of readdirSync(cacheDir)) {
    const dir = join(cacheDir, name);
    if (!KEY.test(name) || !statSync(dir).isDirectory()) continue;
    let model = '?', dtype = '?', backend = '?';
    try {
      const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as { model?: { architecture?: string }; build?: { dtype?: string }; target?: { backend?: string } };
      model = m.model?.architecture ?? '?';
      dtype = m.build?.dtype ?? '?';
      backend = m.target?.backend ?? 'cpu';
    } catch { /* listed as '?': prune still sees it */ }
    out.push({ key: name, dir, bytes: dirBytes(dir), last_used: statSync(dir).mtime.toISOString(), model, dtype, backend });
  }
  return out.sort((a, b) => (a.last_used < b.last_used ? 1 : -1));
}

/** Removes least recently used entries until the cache holds at most maxBytes (and leftovers of killed stores). */
export function pruneCache(cacheDir: string, maxBytes: number): { removed: CacheEntry[]; kept: CacheEntry[] } {
  if (existsSync(cacheDir)) {
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith('.') && name.includes('.tmp-')) {
        const p = join(cacheDir, name);
        if (Date.now() - statSync(p).mtimeMs > 3600_000) rmSync(p, { recursive: true, force: true });
      }
    }
  }
  const entries = listCache(cacheDir);            // newest first
  let total = entries.reduce((a, e) => a + e.bytes, 0);
  const removed: CacheEntry[] = [];
  for (let i = entries.length - 1; i >= 0 && total > maxBytes; i--) {
    rmSync(entries[i].dir, { recursive: true, force: true });
    total -= entries[i].bytes;
    removed.push(entries[i]);
  }
  return { removed, kept: entries.filter((e) => !removed.includes(e)) };
}
