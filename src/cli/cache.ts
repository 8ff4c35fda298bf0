// llmc cache ls | prune --max-bytes N: the engine cache of `llmc build --cache-dir` (src/compiler/cache/).
// The directory: --cache-dir, else $LLMC_CACHE_DIR, else ~/.cache/llmc.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { formatBytes } from './format.js';
import { nonEmpty } from './parse.js';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.LLMC_CACHE_DIR && env.LLMC_CACHE_DIR.trim() !== '' ? env.LLMC_CACHE_DIR : join(homedir(), '.cache', 'llmc'));
}

const UNITS: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, KI: 2 ** 10, MI: 2 ** 20, GI: 2 ** 30, TI: 2 ** 40 };

/** 20G, 512M, 1.5GiB, 1000000 -> bytes. */
export function bytesArg(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$/i.exec(v);
  const n = m ? Number(m[1]) * UNITS[(m[2] ?? '').toUpperCase()] : NaN;
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a byte count like 20G, 512M, 1.5GiB or 1000000');
  return Math.floor(n);
}

export function registerCache(program: Command): void {
  const cache = program.command('cache').summary('list or prune the engine cache (llmc build --cache-dir)')
    .description('The engine cache of `llmc build --cache-dir DIR`: DIR/<content key> holds an engine. Default DIR: $LLMC_CACHE_DIR, else ~/.cache/llmc.');
  cache.command('ls')
    .description('list cached engines, most recently used first')
    .option('--cache-dir <dir>', 'the cache directory', nonEmpty('--cache-dir'))
    .option('--json', 'print one JSON array')
    .action(async (flags: { cacheDir?: string; json?: boolean }) => {
      const { listCache } = await import('../compiler/cache/engine-cache.js');
      const dir = flags.cacheDir ? resolve(flags.cacheDir) : defaultCacheDir();
      const entries = listCache(dir);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(entries)}\n`);
        return;
      }
      for (const e of entries) process.stdout.write(`${e.key.slice(0, 16)}  ${formatBytes(e.bytes).padStart(9)}  ${e.last_used}  ${e.model} ${e.dtype} ${e.backend}\n`);
      const total = entries.reduce((a, e) => a + e.bytes, 0);
      process.stdout.write(`${entries.length} engines, ${formatBytes(total)} in ${dir}\n`);
    });
  cache.command('prune')
    .description('remove the least recently used engines until the cache holds at most --max-bytes')
    .requiredOption('--max-bytes <n>', 'bytes to keep at most: 20G, 512M, 0 (empty the cache)', bytesArg)
    .option('--cache-dir <dir>', 'the cache directory', nonEmpty('--cache-dir'))
    .action(async (flags: { cacheDir?: string; maxBytes: number }) => {
      const { pruneCache } = await import('../compiler/cache/engine-cache.js');
      const dir = flags.cacheDir ? resolve(flags.cacheDir) : defaultCacheDir();
      const r = pruneCache(dir, flags.maxBytes);
      for (const e of r.removed) process.stdout.write(`removed ${e.key.slice(0, 16)} (${formatBytes(e.bytes)}, last used ${e.last_used})\n`);
      const kept = r.kept.reduce((a, e) => a + e.bytes, 0);
      process.stdout.write(`kept ${r.kept.length} engines, ${formatBytes(kept)} in ${dir}\n`);
    });
}
