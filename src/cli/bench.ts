// llmc bench ENGINE: prefill and decode speed on a random prompt, measured separately, at batch 1 and at every
// --batch size (sequences decoding together: aggregate and per-sequence tokens/s), how close decode comes to the
// memory-bandwidth roofline, and which CPU kernel path each op took. Decode at batch 1 reads every weight once per token, so
//   achieved GB/s = weight bytes per step x decode tok/s,   MBU = achieved / measured peak read bandwidth.
import { Command, InvalidArgumentError, Option } from 'commander';
import { LlmcError } from '../errors.js';
import { loadAddon } from '../runtime/addon.js';
import { Engine } from '../runtime/engine.js';
import { followRank0 } from './follow.js';
import { shardedRole } from '../runtime/ranks.js';
import { readEngineManifest } from '../runtime/manifest.js';
import { cancelOnSigint } from '../runtime/sigint.js';
import { formatBytes, formatMs, formatRate, table } from './format.js';
import { BACKENDS, type BackendName, intArg, threadsArg } from './parse.js';
import { EXIT_INTERRUPTED } from './report-error.js';

interface BenchFlags {
  batch: number[];
  promptLen: number;
  genLen: number;
  threads?: number;
  json?: boolean;
  backend?: BackendName;
}

/** Deterministic token ids in [0, vocab): the same prompt on every run, so runs compare. */
interface BatchRow {
  batch: number;
  prefill_ms: number;
  prefill_tok_s: number | null;
  decode_tok_s: number | null;
  per_seq_decode_tok_s: number | null;
  decode_steps: number;
  achieved_gb_s: number | null;
  mbu_percent: number | null;
  kernel_paths: Record<string, unknown> | null;
}

/** "1,4,8" -> [1, 4, 8]: distinct batch sizes >= 1, in the order given. */
export function batchListArg(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 4096) {
      throw new InvalidArgumentError(`expected a comma-separated list of batch sizes in [1, 4096], e.g. 1,4,8; got '${value}'`);
    }
    if (!out.includes(Number(p))) out.push(Number(p));
  }
  return out;
}

export function randomPrompt(length: number, vocab: number, seed = 1234): number[] {
  let s = seed >>> 0;
  const ids: number[] = [];
  for (let i = 0; i < length; i++) {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    ids.push((((t ^ (t >>> 14)) >>> 0) / 4294967296 * vocab) | 0);
  }
  return ids;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .summary('measure prefill/decode speed and memory-bandwidth utilisation')
    .description('Measure batch-1 prefill and decode tokens/s on a random prompt, the weight bytes each decode step ' +
      'reads, the achieved and the measured memory bandwidth, and MBU (achieved / measured).')
    .argument('<engine_dir>', 'engine directory')
    .option('--prompt-len <n>', 'prompt tokens', intArg(1, 1 << 24), 128)
    .option('--gen-len <n>', 'generated tokens (at least 2: decode speed needs one step after the first token)', intArg(2, 1 << 24), 128)
    .option('--batch <list>', 'decode batch sizes to measure, e.g. 1,4,8 (sequences decoding together; each needs ' +
      '--max-batch-size at build time at least as large)', batchListArg, [1])
    .option('--threads <n>', 'CPU threads (default: all cores)', threadsArg)
    .option('--json', 'print one JSON object')
    .addOption(new Option('--backend <backend>', "what runs the engine: cpu or cuda (default: the engine's target)").choices(BACKENDS))
    .action(async (dir: string, flags: BenchFlags) => {
      const manifest = readEngineManifest(dir);
      const maxSeq = manifest.build.max_seq_len;
      if (flags.promptLen + flags.genLen > maxSeq) {
        throw new LlmcError('LIMIT', `--prompt-len ${flags.promptLen} + --gen-len ${flags.genLen} exceeds this engine's max_seq_len ${maxSeq}`);
      }
      const batches = flags.batch;
      const maxBatch = manifest.build.max_batch_size;
      const tooBig = batches.find((b) => maxBatch !== undefined && b > maxBatch);
      if (tooBig !== undefined) {
        throw new LlmcError('LIMIT', `--batch ${tooBig} exceeds this engine's max_batch_size ${maxBatch}; rebuild with --max-batch-size ${tooBig}`);
      }
      // A sharded engine: rank 0 measures, the other ranks follow its steps (mpirun started here when needed).
      const role = await shardedRole(dir, manifest, process.argv, flags.threads);
      const threads = role.kind === 'single' ? flags.threads : role.threads;
      if (role.kind === 'follower') return followRank0(dir, threads, flags.backend);
      const engine = await Engine.load(dir, { numThreads: threads, backend: flags.backend });
      try {
        const info = engine.info();
        const prompt = randomPrompt(flags.promptLen, engine.vocabSize);
        // Warm-up: first touches of the mmapped weights and the thread pool's first wake-up are not the steady state.
        await engine.generate(prompt.slice(0, Math.min(prompt.length, 16)), { maxNewTokens: 4, ignoreEos: true });
        const r = await cancelOnSigint(engine, () => engine.generate(prompt, { maxNewTokens: flags.genLen, ignoreEos: true }));
        if (r.stopReason === 'cancelled') {
          process.exitCode = EXIT_INTERRUPTED;
          return;
        }
        const threads = typeof info.threads === 'number' ? info.threads : (flags.threads ?? 0);
        // The CUDA backend measured its device at load (a device-to-device copy kernel, bytes read + written);
        // on the CPU the host's streaming-read bandwidth is measured now.
        const onDevice = info.backend === 'cuda' && typeof info.device_bandwidth_gb_s === 'number' && info.device_bandwidth_gb_s > 0;
        const bandwidth = onDevice ? (info.device_bandwidth_gb_s as number) : await loadAddon().measureMemoryBandwidth(flags.threads ?? 0, 1.0);
        const bandwidthHow = onDevice
          ? `device-to-device copy on ${String(info.device ?? 'the GPU')}, read + write`
          : `streaming read, ${threads || 'all'} threads`;

        // What each kernel kind ran, read after each measurement so that every row names its own paths.
        const cpuPaths = () => (info.backend === 'cuda' ? null : JSON.parse(loadAddon().cpuKernelPaths()) as Record<string, unknown>);
        const kernelPaths = cpuPaths();
        const generated = r.outputIds.length;
        const prefillTokS = r.prefillMs > 0 ? flags.promptLen / (r.prefillMs / 1000) : null;
        const decodeTokS = r.tpotMs ? 1000 / r.tpotMs : null;
        const stepBytes = manifest.memory_plan?.decode_weight_bytes ??
          (typeof info.decode_weight_bytes === 'number' ? info.decode_weight_bytes : null);
        const achievedGBs = stepBytes !== null && decodeTokS !== null ? (stepBytes * decodeTokS) / 1e9 : null;
        const mbu = achievedGBs !== null && bandwidth > 0 ? (achievedGBs / bandwidth) * 100 : null;
        // Batched rows: every sequence decodes in the same steps, which read the weights once per step.
        const batched: BatchRow[] = [];
        for (const b of batches.filter((n) => n > 1)) {
          const br = await engine.benchBatch(prompt, b, flags.genLen);
          const stepsPerS = br.decodeMs > 0 ? br.decodeSteps / (br.decodeMs / 1000) : null;
          const gbs = stepBytes !== null && stepsPerS !== null ? (stepBytes * stepsPerS) / 1e9 : null;
          batched.push({
            batch: b, prefill_ms: br.prefillMs, prefill_tok_s: br.prefillMs > 0 ? (b * flags.promptLen) / (br.prefillMs / 1000) : null,
            decode_tok_s: br.decodeTokS || null, per_seq_decode_tok_s: br.perSeqTokS || null, decode_steps: br.decodeSteps,
            achieved_gb_s: gbs, mbu_percent: gbs !== null && bandwidth > 0 ? (gbs / bandwidth) * 100 : null,
            kernel_paths: cpuPaths(),
          });
        }
        const common = {
          backend: info.backend ?? null, simd: info.simd ?? null, threads,
          ...(onDevice ? { device: info.device ?? null, kernels: info.kernels ?? null, bandwidth_source: 'device copy' } : {}),
        };

        if (flags.json) {
          // One JSON object per line, one line per --batch setting (batch 1 first when asked for).
          if (batches.includes(1)) {
            process.stdout.write(`${JSON.stringify({
              batch: 1, prompt_tokens: flags.promptLen, generated_tokens: generated,
              prefill_tok_s: prefillTokS, decode_tok_s: decodeTokS, per_seq_decode_tok_s: decodeTokS, ttft_ms: r.prefillMs, tpot_ms: r.tpotMs,
              decode_weight_bytes: stepBytes, achieved_gb_s: achievedGBs, measured_gb_s: bandwidth, mbu_percent: mbu,
              ...common, ...(kernelPaths ? { kernel_paths: kernelPaths } : {}),
            })}\n`);
          }
          for (const row of batched) {
            process.stdout.write(`${JSON.stringify({
              ...row, prompt_tokens: flags.promptLen, generated_tokens: flags.genLen, decode_weight_bytes: stepBytes,
              measured_gb_s: bandwidth, ...common, kernel_paths: row.kernel_paths ?? undefined,
            })}\n`);
          }
          return;
        }
        const where = onDevice ? `cuda, ${String(info.device ?? '?')}, ${String(info.kernels ?? '?')}` :
          `${String(info.backend ?? 'cpu')}, ${String(info.simd ?? '?')}, ${threads || 'all'} threads`;
        process.stdout.write(`llmc bench ${dir} (${where})\n`);
        const rows: [string, string][] = [
          ['prompt', `${flags.promptLen} tokens (random ids)`],
          ['generated', `${generated} tokens (EOS ignored)`],
          ['prefill', `${formatRate(prefillTokS, 'tok/s')} (TTFT ${formatMs(r.prefillMs)})`],
          ['decode, batch 1', `${formatRate(decodeTokS, 'tok/s')} (TPOT ${formatMs(r.tpotMs)})`],
        ];
        for (const row of batched) {
          rows.push([`decode, batch ${row.batch}`, `${formatRate(row.decode_tok_s, 'tok/s')} aggregate, ` +
            `${formatRate(row.per_seq_decode_tok_s, 'tok/s')} per sequence` +
            (decodeTokS && row.decode_tok_s ? ` (${(row.decode_tok_s / decodeTokS).toFixed(2)}x batch 1)` : '') +
            `; prefill of ${row.batch} prompts ${formatMs(row.prefill_ms)}`]);
        }
        rows.push(
          ['weights read per decode step', stepBytes !== null ? `${formatBytes(stepBytes)} (${stepBytes} B)` : 'n/a (no memory_plan.decode_weight_bytes)'],
          ['achieved bandwidth', formatRate(achievedGBs, 'GB/s')],
          ['measured memory bandwidth', `${formatRate(bandwidth, 'GB/s')} (${bandwidthHow})`],
          ['MBU', mbu !== null ? `${mbu.toFixed(1)} %` : 'n/a'],
        );
        if (kernelPaths) {
          const paths = Object.entries(kernelPaths).filter(([k, v]) => v !== null && !['simd', 'cpu_simd', 'cpu_features'].includes(k));
          rows.push(['kernel paths, batch 1', paths.map(([k, v]) => `${k}: ${String(v)}`).join('; ')]);
          const last = batched[batched.length - 1];
          if (last?.kernel_paths) rows.push([`linear, batch ${last.batch}`, `decode: ${String(last.kernel_paths.linear_decode)}; prefill: ${String(last.kernel_paths.linear_prefill)}`]);
        }
        process.stdout.write(`${table(rows)}\n`);
        if (mbu !== null && mbu > 100) {
          process.stdout.write('note: MBU above 100 % means the weights were partly served from cache (a model this small fits in it)\n');
        }
      } finally {
        engine.close();
      }
    });
}
