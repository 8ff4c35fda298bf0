// Engine integrity: the manifest's `integrity` lists every file of the engine with its size and sha256, and a
// sha256 of the manifest itself without that field (a file cannot hold its own hash). `llmc verify ENGINE
// --integrity` re-reads every byte and names the first file that differs; the loaders check sizes and headers on
// every load, which is cheap, while this is the full check (a bit flip, a truncated or swapped copy).
import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LlmcError } from '../../errors.js';
import { MANIFEST_FILE } from './format.js';

export interface FileDigest { bytes: number; sha256: string }
export interface Integrity { algorithm: 'sha256'; manifest_sha256: string; files: Record<string, FileDigest> }

/**
 * sha256 of a file written at increasing positions (the engine writer's weights), fed as it is written: a gap
 * between writes is zeros (the padding ftruncate leaves), so the file is never read back.
 */
export class StreamingDigest {
  private readonly h: Hash = createHash('sha256');
  private pos = 0;
  private static readonly ZEROS = Buffer.alloc(1 << 16);

  /** bytes written at `position`; false when it is before the end of what was hashed (then hash the file). */
  update(bytes: Buffer, position: number): boolean {
    if (position < this.pos) return false;
    this.zeros(position - this.pos);
    this.h.update(bytes);
    this.pos = position + bytes.length;
    return true;
  }

  /** The file's final size (zeros after the last write, as ftruncate leaves them). */
  finish(size: number): FileDigest {
    this.zeros(size - this.pos);
    return { bytes: size, sha256: this.h.digest('hex') };
  }

  private zeros(n: number): void {
    for (let left = n; left > 0; left -= StreamingDigest.ZEROS.length) {
      this.h.update(left >= StreamingDigest.ZEROS.length ? StreamingDigest.ZEROS : StreamingDigest.ZEROS.subarray(0, left));
    }
    this.pos += Math.max(0, n);
  }
}

export function digestFile(path: string): FileDigest {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1 << 22);
  let bytes = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, bytes);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: h.digest('hex') };
}

/** The manifest's own hash: its JSON as the writer formats it, without `integrity`. */
export function manifestDigest(manifest: Record<string, unknown>): string {
  const { integrity: _skip, ...rest } = manifest;
  return createHash('sha256').update(JSON.stringify(rest, null, 2) + '\n').digest('hex');
}

/** Every file under dir except the manifest, as relative paths, sorted. */
export function engineFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.filter((f) => f !== MANIFEST_FILE).sort();
}

export interface IntegrityReport {
  ok: boolean;
  files: { file: string; bytes: number; status: 'ok' | 'missing' | 'size' | 'sha256' }[];
  unlisted: string[];
  manifest_ok: boolean;
  problem: string | null;     // the first mismatch, one sentence
}

/** Re-reads every file the manifest lists and compares sizes and sha256. */
export function checkIntegrity(dir: string): IntegrityReport {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) throw new LlmcError('NOT_FOUND', `${dir} is not an llmc engine (no ${MANIFEST_FILE})`);
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new LlmcError('BAD_ENGINE', `${path} is not valid JSON (${(e as Error).message})`);
  }
  const integ = manifest.integrity as Integrity | undefined;
  if (!integ || typeof integ !== 'object' || typeof integ.files !== 'object' || integ.files === null) {
    throw new LlmcError('BAD_ENGINE', `${dir} records no file checksums (built by an llmc before checksums)`, 'rebuild it to get them');
  }
  const files: IntegrityReport['files'] = [];
  let problem: string | null = null;
  const manifestOk = manifestDigest(manifest) === integ.manifest_sha256;
  if (!manifestOk) problem = `${MANIFEST_FILE} was changed after the build (its sha256 differs from the one recorded)`;
  for (const [file, want] of Object.entries(integ.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const p = join(dir, file);
    let status: IntegrityReport['files'][number]['status'] = 'ok';
    let bytes = 0;
    if (!existsSync(p)) status = 'missing';
    else if ((bytes = statSync(p).size) !== want.bytes) status = 'size';
    else if (digestFile(p).sha256 !== want.sha256) status = 'sha256';
    files.push({ file, bytes, status });
    if (status !== 'ok' && problem === null) {
      problem = status === 'missing' ? `${file} is missing`
        : status === 'size' ? `${file} has ${bytes} bytes; the manifest records ${want.bytes} (truncated or replaced)`
          : `${file} has the recorded size but its sha256 differs (its bytes were changed)`;
    }
  }
  const listed = new Set(Object.keys(integ.files));
  const unlisted = engineFiles(dir).filter((f) => !listed.has(f));
  return { ok: problem === null, files, unlisted, manifest_ok: manifestOk, problem };
}
