// llmc bench-serve ENGINE: a synthetic workload through the real HTTP server (`llmc serve` in a child process on
// 127.0.0.1), for each batching mode and concurrency: TTFT / TPOT / ITL / end-to-end latency percentiles and
// throughputs, written as JSON + CSV + an SVG latency-throughput plot. docs/serving.md "Benchmark".
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { LlmcError } from '../errors.js';
import { readEngineManifest } from '../runtime/manifest.js';
import { runWorkload } from '../bench-serve/client.js';
import { latencyThroughputSvg } from '../bench-serve/plot.js';
import { summarize, toCsv, type RunSummary } from '../bench-serve/stats.js';
import { makeWorkload, type LengthDist, type LengthRange } from '../bench-serve/workload.js';
import { intArg, nonEmpty, threadsArg } from './parse.js';
import { byteSizeArg } from './serve-options.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'llmc.js');
const MODES = ['inflight', 'dynamic', 'static'] as const;

function rangeArg(value: string): LengthRange {
  const m = /^\s*(\d+)\s*(?::\s*(\d+))?\s*$/.exec(value);
  const min = m ? Number(m[1]) : NaN;
  const max = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(min >= 1 && max >= min && Number.isSafeInteger(max))) throw new InvalidArgumentError('must be N or MIN:MAX with 1 <= MIN <= MAX, e.g. 128:512');
  return { min, max };
}

function listArg(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const xs = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || xs.some((x) => x < 1)) throw new InvalidArgumentError('must be comma-separated integers >= 1, e.g. 1,4,16');
  return xs;
}

function modesArg(value: string): string[] {
  const xs = value === 'all' ? [...MODES] : value.split(',').map((s) => s.trim());
  for (const x of xs) if (!(MODES as readonly string[]).includes(x)) throw new InvalidArgumentError('must be inflight, dynamic, static, a comma list of them, or all');
  return xs;
}

function distArg(value: string): LengthDist {
  if (value !== 'uniform' && value !== 'log-uniform') throw new InvalidArgumentError('must be uniform or log-uniform');
  return value;
}

function rateArg(value: string): number {
  const v = Number(value);
  if (!(v > 0 && Number.isFinite(v))) throw new InvalidArgumentError('must be a number > 0 (requests per second)');
  return v;
}

interface BenchServeFlags {
  concurrency: number[];
  requests: number;
  inputLen: LengthRange;
  outputLen: LengthRange;
  outputDist: LengthDist;
  rate?: number;
  batching: string[];
  out: string;
  seed: number;
  threads?: number;
  kvCacheBytes?: number;
  maxBatchSize?: number;
}

/** Starts `llmc serve` on a free port and resolves with its base URL once it listens. */
function startServer(dir: string, args: string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', dir, '--port', '0', '--host', '127.0.0.1', '--max-queue', '100000', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(err);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new LlmcError('RUNTIME', `llmc serve exited (${code}) before listening: ${err.trim().split('\n').pop() ?? ''}`)));
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  child.kill('SIGTERM');
  await done;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

export function registerBenchServe(program: Command): void {
  program
    .command('bench-serve')
    .summary('benchmark serving: TTFT/TPOT/ITL/latency and throughput through the HTTP server')
    .description('Send a synthetic workload (random token prompts, ignore_eos) through `llmc serve` for every batching mode and ' +
      'concurrency; report TTFT, TPOT, ITL and end-to-end latency p50/p90/p99 and throughputs; write JSON, CSV and an SVG ' +
      'latency-throughput plot to --out.')
    .argument('<engine_dir>', 'engine directory')
    .option('--concurrency <list>', 'requests in flight at once, e.g. 1,4,16', listArg, [1, 4, 16])
    .option('--requests <n>', 'requests per concurrency level', intArg(1, 1_000_000), 64)
    .option('--input-len <range>', 'prompt tokens, N or MIN:MAX (uniform)', rangeArg, { min: 64, max: 256 })
    .option('--output-len <range>', 'generated tokens, N or MIN:MAX (EOS ignored)', rangeArg, { min: 16, max: 128 })
    .option('--output-dist <dist>', 'output lengths: uniform, or log-uniform (many short, few long)', distArg, 'uniform')
    .option('--rate <r>', 'Poisson arrivals at r requests/s (default: closed loop, each slot sends when its last finished)', rateArg)
    .option('--batching <modes>', 'inflight, dynamic, static, a comma list, or all', modesArg, ['inflight'])
    .option('--out <dir>', 'where bench-serve.json, bench-serve.csv and latency-throughput.svg go', nonEmpty('--out'), 'bench-serve')
    .option('--seed <n>', 'workload seed', intArg(0), 0)
    .option('--threads <n>', 'server CPU threads (default: all cores)', threadsArg)
    .option('--kv-cache-bytes <size>', 'server KV cache size, e.g. 1G', byteSizeArg)
    .option('--max-batch-size <n>', "server batch limit (default: the engine's max_batch_size)", intArg(1, 1 << 20))
    .action(async (dir: string, f: BenchServeFlags) => {
      const manifest = readEngineManifest(dir);
      const maxSeq = manifest.build.max_seq_len;
      if (f.inputLen.max + f.outputLen.max > maxSeq) {
        throw new LlmcError('LIMIT', `--input-len max ${f.inputLen.max} + --output-len max ${f.outputLen.max} exceeds this engine's max_seq_len ${maxSeq}`,
          'lower the ranges or rebuild with a larger --max-seq-len');
      }
      const vocab = manifest.model.vocab_size;
      if (typeof vocab !== 'number') throw new LlmcError('BAD_ENGINE', `${dir}/config.json has no model.vocab_size`);
      const maxBatch = f.maxBatchSize ?? manifest.build.max_batch_size ?? 8;
      mkdirSync(f.out, { recursive: true });
      const rows: RunSummary[] = [];
      const model = 'bench';
      process.stderr.write('batching  conc  req/s  out tok/s  TTFT p50/p99 ms   TPOT p50/p99 ms   ITL p50/p99 ms   e2e p50/p99 ms\n');
      for (const mode of f.batching) {
        for (const c of f.concurrency) {
          // Static batching: batches of the concurrency (what a client population of that size fills), capped at the engine's.
          const args = ['--model-name', model, '--batching', mode];
          if (f.threads) args.push('--threads', String(f.threads));
          if (f.kvCacheBytes) args.push('--kv-cache-bytes', String(f.kvCacheBytes));
          if (f.maxBatchSize) args.push('--max-batch-size', String(f.maxBatchSize));
          if (mode === 'static') args.push('--static-batch-size', String(Math.min(c, maxBatch)));
          // A fresh server per run: no prefix cache or warm state carried over.
          const { child, url } = await startServer(dir, args);
          try {
            await runWorkload(url, model, makeWorkload(Math.min(2, f.requests), { min: 8, max: 8 }, { min: 2, max: 2 }, vocab, 999), 1);  // warm-up
            const items = makeWorkload(f.requests, f.inputLen, f.outputLen, vocab, f.seed, f.rate, f.outputDist);
            const { timings, durationS } = await runWorkload(url, model, items, c);
            const r = summarize(mode, c, f.rate ?? null, timings, durationS);
            rows.push(r);
            const firstError = timings.find((t) => !t.ok)?.error;
            process.stderr.write(`${mode.padEnd(9)} ${String(c).padStart(4)} ${r.requestsPerS.toFixed(2).padStart(6)} ${r.outputTokensPerS.toFixed(1).padStart(10)}` +
              `  ${fmt(r.ttftMs.p50)}/${fmt(r.ttftMs.p99)}`.padEnd(18) + `  ${fmt(r.tpotMs.p50)}/${fmt(r.tpotMs.p99)}`.padEnd(18) +
              `  ${fmt(r.itlMs.p50)}/${fmt(r.itlMs.p99)}`.padEnd(17) + `  ${fmt(r.e2eMs.p50)}/${fmt(r.e2eMs.p99)}` +
              (r.failed ? `  (${r.failed} failed: ${firstError})` : '') + '\n');
          } finally {
            await stopServer(child);
          }
        }
      }
      const report = {
        engine: dir, date: new Date().toISOString(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length,
        workload: { requests: f.requests, input_len: f.inputLen, output_len: f.outputLen, output_dist: f.outputDist, rate: f.rate ?? null, seed: f.seed },
        runs: rows,
      };
      writeFileSync(join(f.out, 'bench-serve.json'), JSON.stringify(report, null, 2) + '\n');
      writeFileSync(join(f.out, 'bench-serve.csv'), toCsv(rows));
      writeFileSync(join(f.out, 'latency-throughput.svg'), await latencyThroughputSvg(rows,
        `${manifest.model.architecture ?? 'engine'}: ${f.requests} requests, input ${f.inputLen.min}-${f.inputLen.max}, output ${f.outputLen.min}-${f.outputLen.max}${f.outputDist === 'uniform' ? '' : ` (${f.outputDist})`}`));
      process.stderr.write(`wrote ${join(f.out, 'bench-serve.json')}, bench-serve.csv, latency-throughput.svg\n`);
    });
}
