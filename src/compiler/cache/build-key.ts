// The build's content key: sha256 over everything that decides the engine's bytes. Inputs are the files the build
// reads (config.json, every safetensors file and the index, the tokenizer and generation files it copies; a dummy
// build's config file), each by the root digest of its spans (segment-digest.ts: a safetensors file cut at its
// header and each tensor, so the engine writer's sha256 of a tensor it copies serves here too; any other file is
// one span, its root digest its plain sha256); settings are every resolved build flag (dtype, limits, target
// with its CUDA archs and nvcc version, dummy config and seed, reference mode, the passes), the engine format
// version, the op schema hash, llmc's version and a hash of the compiler's own code (so a changed compiler
// never reuses an engine an older one built). The manifest records the key, the settings and each input's size,
// mtime and sha256: a rebuild whose inputs still have their recorded size and mtime is up to date without hashing
// (--rehash hashes them anyway).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestSpans, fileSpans, rootDigest } from '../engine/segment-digest.js';

export interface KeyInput { file: string; bytes: number; mtime_ms: number; sha256: string }
export interface BuildKey { key: string; settings: Record<string, unknown>; inputs: KeyInput[] }

/** What the files look like now without reading them (the fast path): size and mtime. */
export function statInputs(paths: string[]): Omit<KeyInput, 'sha256'>[] {
  return paths.map((file) => {
    const s = statSync(file);
    return { file, bytes: s.size, mtime_ms: Math.floor(s.mtimeMs) };
  });
}

/** Every input hashed here, span by span (the build hashes on a worker instead: hash-worker.ts). */
export function hashInputs(paths: string[]): KeyInput[] {
  return statInputs(paths).map((s) => ({ ...s, sha256: rootDigest(digestSpans(s.file, fileSpans(s.file))) }));
}

export function computeKey(settings: Record<string, unknown>, inputs: KeyInput[]): BuildKey {
  const h = createHash('sha256');
  h.update(JSON.stringify(sortKeys(settings)));
  // Inputs by content and name within their directory, not by absolute path or mtime: the same checkpoint copied
  // elsewhere has the same content key (the manifest's source.dir still says where each engine came from).
  for (const i of [...inputs].sort((a, b) => (a.file < b.file ? -1 : 1))) h.update(`\0${baseName(i.file)}\0${i.sha256}`);
  return { key: h.digest('hex'), settings, inputs };
}

/** The fast path: the recorded inputs have the same paths, sizes and mtimes now. */
export function sameStats(recorded: KeyInput[], now: Omit<KeyInput, 'sha256'>[]): boolean {
  if (recorded.length !== now.length) return false;
  const byFile = new Map(recorded.map((r) => [r.file, r]));
  return now.every((n) => {
    const r = byFile.get(n.file);
    return r !== undefined && r.bytes === n.bytes && r.mtime_ms === n.mtime_ms;
  });
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

let compilerHash: string | undefined;
/** sha256 over the compiler's own code (this build of dist/compiler and dist/passes, or src/ under ts-jest). */
export function compilerCodeHash(): string {
  if (compilerHash) return compilerHash;
  const root = dirname(dirname(fileURLToPath(import.meta.url)));   // .../compiler
  const h = createHash('sha256');
  for (const dir of [root, join(dirname(root), 'passes')]) {
    for (const f of walk(dir)) h.update(`\0${relative(dirname(root), f)}\0`).update(readFileSync(f));
  }
  compilerHash = h.digest('hex').slice(0, 16);
  return compilerHash;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (/\.(js|ts|json)$/.test(e.name) && !e.name.endsWith('.map')) out.push(p);
  }
  return out;
}
