// Runs the llmc CLI as a user would (node bin/llmc.js ...), capturing stdout, stderr and the exit code.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const goldenDir = join(repoRoot, 'test', 'fixtures', 'golden');

export interface CliResult { code: number; stdout: string; stderr: string }

export function llmc(args: string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), ...args], {
    encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000, input: opts.input ?? '', env: { ...process.env, LLMC_DEBUG: '', ...opts.env },
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function tempDir(prefix = 'llmc-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Asserts the one-line error contract: non-zero exit, `error: ...` on one line, no stack trace. */
export function expectCleanError(r: CliResult, pattern?: RegExp): void {
  if (r.code === 0) throw new Error(`expected failure, got exit 0\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1 || !lines[0].startsWith('error: ')) {
    throw new Error(`expected one 'error: ...' line on stderr, got:\n${r.stderr}`);
  }
  if (/\n\s+at .+\(.+:\d+:\d+\)/.test(r.stderr)) throw new Error(`stack trace on stderr:\n${r.stderr}`);
  if (pattern && !pattern.test(lines[0])) throw new Error(`error line ${JSON.stringify(lines[0])} does not match ${pattern}`);
}
