// Engine integrity: the manifest's `integrity` lists every file of the engine with its size and sha256, and a
// sha256 of the manifest itself without that field (a file cannot hold its own hash). `llmc verify ENGINE
// --integrity` re-reads every byte and names the first file that differs; the loaders check sizes and headers on
// every load, which is cheap, while this is the full check (a bit flip, a truncated or swapped copy).
// Since 2026-12-06 (algorithm 'sha256-segments') an engine file's digest is taken over segments
// (segment-digest.ts): one per weight copied whole from the checkpoint and one per stretch between them, so a
// mismatch names the byte range and the weight in it; engines with the whole-file 'sha256' are still checked.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LlmcError } from '../../errors.js';
import { ENGINE_FILE, MANIFEST_FILE } from './format.js';
import { readPlan } from './reader.js';
import { digestSpans, rootDigest, tiles, type Segment } from './segment-digest.js';

/** A file's size and digest: the root of `segments` when there are several (else the file's plain sha256). */
export interface FileDigest { bytes: number; sha256: string; segments?: Segment[] }
export interface Integrity { algorithm: 'sha256' | 'sha256-segments'; manifest_sha256: string; files: Record<string, FileDigest> }

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
    let where = '';
    if (!existsSync(p)) status = 'missing';
    else if ((bytes = statSync(p).size) !== want.bytes) status = 'size';
    else if (Array.isArray(want.segments)) {
      const bad = tiles(want.segments, bytes) ?? (rootDigest(want.segments) === want.sha256 ? null : 'their root is not the recorded sha256');
      if (bad !== null) {
        status = 'sha256';
        where = ` (the manifest's segments do not match it: ${bad})`;
      } else {
        const got = digestSpans(p, want.segments.map(([offset, n]) => ({ offset, bytes: n })));
        const i = got.findIndex((g, k) => g[2] !== want.segments![k][2]);
        if (i >= 0) {
          status = 'sha256';
          const [a, n] = got[i];
          where = ` in bytes [${a}, ${a + n})${whatIsIn(dir, file, a, a + n)}`;
        }
      }
    } else if (digestFile(p).sha256 !== want.sha256) status = 'sha256';
    files.push({ file, bytes, status });
    if (status !== 'ok' && problem === null) {
      problem = status === 'missing' ? `${file} is missing`
        : status === 'size' ? `${file} has ${bytes} bytes; the manifest records ${want.bytes} (truncated or replaced)`
          : `${file} has the recorded size but its sha256 differs${where} (its bytes were changed)`;
    }
  }
  const listed = new Set(Object.keys(integ.files));
  const unlisted = engineFiles(dir).filter((f) => !listed.has(f));
  return { ok: problem === null, files, unlisted, manifest_ok: manifestOk, problem };
}

/** ", weight NAME" (or the header, or several weights) for bytes [a, b) of an engine file; '' when its plan does not read. */
function whatIsIn(dir: string, file: string, a: number, b: number): string {
  const m = /^rank(\d+)\.engine$/.exec(file);
  if (!m && file !== ENGINE_FILE) return '';
  try {
    const { header, plan } = readPlan(dir, m ? Number(m[1]) : 0);
    const names: string[] = [];
    if (a < header.dataOffset) names.push('the header and plan');
    for (const w of plan.values) {
      if (w.kind !== 'weight' || w.offset === undefined || w.nbytes === 0) continue;
      const [s, e] = [header.dataOffset + w.offset, header.dataOffset + w.offset + w.nbytes];
      if (s < b && e > a) names.push(`weight ${w.name}`);
    }
    if (names.length === 0) return ', padding between weights';
    return names.length <= 3 ? `, ${names.join(', ')}` : `, ${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
  } catch {
    return '';
  }
}
