// Flags shared by `llmc serve` and `llmc bench-serve`: how the engine is loaded (threads, backend, KV cache size
// at run time) and how its executor schedules (batching mode, step limits, prefix caching).
import { freemem } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LlmcError } from '../errors.js';
import type { EngineLoadOptions } from '../runtime/engine.js';
import type { Batching, SchedulerOptions } from '../runtime/executor.js';
import { readEngineManifest } from '../runtime/manifest.js';
import { BACKENDS, type BackendName, intArg, threadsArg } from './parse.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "4G", "512M", "1.5G", "1048576" -> bytes (binary units; a trailing B or iB is allowed). */
export function byteSizeArg(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(value);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InvalidArgumentError('must be a size such as 4G, 512M or 1048576');
  return bytes;
}

export function fractionArg(value: string): number {
  const v = Number(value);
  if (!(v > 0 && v <= 1)) throw new InvalidArgumentError('must be a number in (0, 1]');
  return v;
}

export interface EngineFlags {
  threads?: number;
  backend?: BackendName;
  kvCacheBytes?: number;
  kvCacheFraction?: number;
  batching?: Batching;
  maxBatchSize?: number;
  maxNumTokens?: number;
  prefixCaching?: boolean;
  staticBatchSize?: number;
}

export function addEngineFlags(cmd: Command): Command {
  return cmd
    .option('--threads <n>', 'CPU threads (default: all cores)', threadsArg)
    .addOption(new Option('--backend <backend>', "what runs the engine: cpu or cuda (default: the engine's target)").choices(BACKENDS))
    .option('--kv-cache-bytes <size>', 'KV cache size, e.g. 4G or 512M (default: max_batch_size sequences of max_seq_len)', byteSizeArg)
    .option('--kv-cache-fraction <f>', 'KV cache size as a fraction of free memory (CPU: host memory), e.g. 0.5', fractionArg)
    .addOption(new Option('--batching <mode>', 'inflight (admit every step), dynamic (batches run to completion) or static (fixed-size batches)')
      .choices(['inflight', 'dynamic', 'static']).default('inflight'))
    .option('--max-batch-size <n>', "sequences per step (default and at most: the engine's max_batch_size)", intArg(1, 1 << 20))
    .option('--max-num-tokens <n>', "tokens per step, the chunked-prefill budget (default and at most: the engine's max_num_tokens)", intArg(1, 1 << 24))
    .option('--static-batch-size <n>', 'static batching: requests per batch (default --max-batch-size; a smaller batch starts after 1 s)', intArg(1, 1 << 20))
    .option('--no-prefix-caching', 'do not share KV blocks between requests with the same prompt prefix');
}

export function engineLoadOptions(dir: string, f: EngineFlags): EngineLoadOptions {
  if (f.kvCacheBytes !== undefined && f.kvCacheFraction !== undefined) {
    throw new LlmcError('BAD_ARGUMENT', '--kv-cache-bytes and --kv-cache-fraction both set; give one');
  }
  let kvCacheBytes = f.kvCacheBytes;
  if (f.kvCacheFraction !== undefined) {
    const manifest = readEngineManifest(dir);
    const backend = f.backend ?? (manifest.target?.backend === 'cuda' ? 'cuda' : 'cpu');
    if (backend === 'cuda') {
      throw new LlmcError('UNSUPPORTED', '--kv-cache-fraction is measured against host memory, not GPU memory', 'give --kv-cache-bytes for the CUDA backend (its default already fits free GPU memory)');
    }
    kvCacheBytes = Math.floor(freemem() * f.kvCacheFraction);
  }
  const scheduler: SchedulerOptions = {
    batching: f.batching, maxBatchSize: f.maxBatchSize, maxNumTokens: f.maxNumTokens, prefixCaching: f.prefixCaching !== false,
    staticBatchSize: f.staticBatchSize,
  };
  return { numThreads: f.threads, backend: f.backend, kvCacheBytes, scheduler };
}

/** One line on the KV cache the engine got: blocks, bytes, tokens. */
export function kvCacheLine(info: Record<string, unknown>): string {
  const blocks = Number(info.kv_block_count);
  const bytes = Number(info.kv_cache_bytes);
  const bs = Number(info.block_size);
  return `KV cache ${blocks} blocks of ${bs} tokens (${(bytes / 2 ** 20).toFixed(1)} MiB, ${blocks * bs} token positions)`;
}
