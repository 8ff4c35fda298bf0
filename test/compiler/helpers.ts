// Shared by the compiler tests: fixture paths, temp dirs, and ways to make bad checkpoints by corrupting copies.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlmcError, type ErrorCode } from '../../src/errors.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const goldenDir = join(repoRoot, 'test', 'fixtures', 'golden');
export const goldenQuantDir = join(repoRoot, 'test', 'fixtures', 'golden-quant');
export const fixtureModel = (name: string, base = goldenDir) => join(base, name, 'model');
export const LLAMA_FAMILY_FIXTURES = ['llama', 'llama_rope_linear', 'llama3_rope', 'llama_sharded', 'llama_fp16', 'llama_bf16', 'mistral', 'qwen2'];

const temps: string[] = [];
export function tempDir(prefix = 'llmc-compiler-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
export function cleanupTemps(): void {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A writable copy of a fixture's checkpoint directory. */
export function copyFixture(name: string, base = goldenDir): string {
  const dst = join(tempDir(), name);
  cpSync(fixtureModel(name, base), dst, { recursive: true });
  const fix = (p: string) => {
    chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644);
    if (statSync(p).isDirectory()) for (const f of readdirSync(p)) fix(join(p, f));
  };
  fix(dst);
  return dst;
}

export interface StFile { header: Record<string, any>; data: Buffer }

export function readSt(path: string): StFile {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  return { header: JSON.parse(b.subarray(8, 8 + n).toString('utf8')), data: b.subarray(8 + n) };
}

/** Writes a safetensors file (header padded with spaces to a multiple of 8, as the reference writer does). */
export function writeSt(path: string, f: StFile): void {
  let json = JSON.stringify(f.header);
  while (json.length % 8 !== 0) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), f.data]));
}

/** Removes a tensor's entry (its bytes stay: offsets of the others are untouched). */
export function dropTensor(path: string, name: string): void {
  const f = readSt(path);
  delete f.header[name];
  writeSt(path, f);
}

/** Appends a tensor with the given raw bytes at the end of the data section. */
export function addTensor(path: string, name: string, dtype: string, shape: number[], bytes: Buffer): void {
  const f = readSt(path);
  const begin = f.data.length;
  f.header[name] = { dtype, shape, data_offsets: [begin, begin + bytes.length] };
  writeSt(path, { header: f.header, data: Buffer.concat([f.data, bytes]) });
}

export function editConfig(dir: string, edit: (c: Record<string, any>) => void): void {
  const p = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(p, 'utf8'));
  edit(c);
  writeFileSync(p, JSON.stringify(c, null, 2));
}

/** Runs fn and returns the LlmcError it throws (fails the test otherwise). */
export async function llmcError(fn: () => unknown): Promise<LlmcError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof LlmcError) return e;
    throw new Error(`expected an LlmcError, got: ${(e as Error)?.stack ?? e}`);
  }
  throw new Error('expected an LlmcError, nothing was thrown');
}

export function expectOneLine(e: LlmcError, code: ErrorCode, pattern: RegExp): void {
  expect(e.code).toBe(code);
  expect(e.message).toMatch(pattern);
  expect(e.message).not.toContain('\n');
}
