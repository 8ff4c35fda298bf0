// llmc build: HF checkpoint directory -> engine directory.
//   import (hf/) -> family: ModelConfig + weight map (models/) -> graph (layers/) -> passes (src/passes/)
//   -> engine writer (engine/)
// Limits (validated together, derived values logged):
//   max_batch_size  default 8
//   max_seq_len     default min(max_position_embeddings, 4096); beyond max_position_embeddings only a warning
//                   (rope/alibi extrapolate), except with learned positions (the table ends there: an error)
//   max_num_tokens  tokens in one packed step; default max_seq_len, so one whole prompt fits one step. It must be
//                   >= max_batch_size: a decode step carries one token of every running sequence.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fail } from '../errors.js';
import type { BuildDType, BuildOptions, BuildReport } from './api.js';
import { openCheckpoint } from './hf/checkpoint.js';
import { GraphBuilder } from './ir/builder.js';
import type { Graph, WeightDType } from './ir/graph.js';
import { printGraph } from './ir/print.js';
import { buildDecoder } from './layers/decoder.js';
import type { LayerContext } from './layers/context.js';
import type { ModelConfig } from './models/config.js';
import { loadModel, resolveWeights } from './models/load.js';
import type { WeightTable } from './models/weight-map.js';
import { memoryPlanLines } from './engine/memory-plan.js';
import { checkOutDir, commitTempDir, makeTempDir } from './engine/out-dir.js';
import { MANIFEST_FILE } from './engine/format.js';
import { gateFailure } from './quant/accuracy-gate.js';
import type { QuantizationSummary } from './quant/options.js';
import { QuantizedBuild } from './quant/quantized-build.js';
import { resolveKvCacheDType } from './engine/kv-dtype.js';
import type { Limits } from './engine/plan.js';
import { writeEngine } from './engine/writer.js';
import { buildPipeline, runPipeline } from '../passes/pipeline.js';
import { NodeProvenance } from '../passes/provenance.js';
import { buildTarget, resolveTarget } from './cuda/target.js';
import { resolveDummyConfig } from './dummy/config.js';
import { DummyWeightTable } from './dummy/weights.js';
import type { Checkpoint } from './hf/checkpoint.js';
import { TensorReader } from './hf/safetensors.js';
import { readPackedFormat, type PackedFormat } from './quant/checkpoint-config.js';
import { foldPackedModules } from './quant/packed.js';
import { checkQuantOptions, quantizationLines, quantizationSummary } from './quant/options.js';
import type { QuantDecision } from '../passes/quantize.js';
import { buildSettings, inputFiles, inputsDate } from './cache/inputs.js';
import { checkBuildKey } from './cache/up-to-date.js';
import { statInputs } from './cache/build-key.js';
import { cacheStore } from './cache/engine-cache.js';
import { streamLine } from './engine/stream-stats.js';
import { SpanStore } from './engine/segment-digest.js';
import { manifestDigest } from './engine/integrity.js';
import { checkParallelSizes } from '../passes/parallel-sizes.js';
import { checkRanksAgree } from '../passes/ranks-agree.js';

const DTYPES: Record<BuildDType, WeightDType> = { float32: 'f32', float16: 'f16', bfloat16: 'bf16' };
const DEFAULT_MAX_BATCH_SIZE = 8;
const DEFAULT_MAX_SEQ_LEN_CAP = 4096;

export async function buildEngine(opts: BuildOptions): Promise<BuildReport> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  if (opts.dtype !== undefined && !(opts.dtype in DTYPES)) {
    fail('BAD_ARGUMENT', `--dtype ${String(opts.dtype)} is not supported`, `use one of ${Object.keys(DTYPES).join(', ')}`);
  }
  for (const [flag, v] of [['--max-batch-size', opts.maxBatchSize], ['--max-seq-len', opts.maxSeqLen], ['--max-num-tokens', opts.maxNumTokens]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) fail('BAD_ARGUMENT', `${flag} must be a positive integer, got ${String(v)}`);
  }
  checkDummyOptions(opts);
  const kvCacheDType = resolveKvCacheDType(opts.kvCacheDType);
  const needed = [['-o (the engine directory)', opts.outDir], ...(opts.dummyWeights ? [] : [['the checkpoint directory', opts.modelDir]])] as const;
  for (const [flag, v] of needed) {
    if (typeof v !== 'string' || v.trim() === '') fail('BAD_ARGUMENT', `${flag} is missing`, 'usage: llmc build HF_DIR -o ENGINE');
  }
  const modelDir = opts.modelDir === undefined ? undefined : resolve(opts.modelDir);
  const outAbs = resolve(opts.outDir);
  if (modelDir !== undefined && (outAbs === modelDir || modelDir.startsWith(outAbs + sep))) {
    fail('BAD_ARGUMENT', `the engine directory ${outAbs} would replace the checkpoint ${modelDir}`, 'pick another -o directory');
  }
  const outDirLines: string[] = [];                       // said only when the build really writes outDir
  const outDir = checkOutDir(outAbs, opts.force ?? false, (line) => outDirLines.push(line));
  const env = opts.env ?? process.env;
  const target = opts.reference ? resolveTarget('cpu', undefined, env) : resolveTarget(opts.target, opts.cudaArch, env);   // flags and nvcc, before any checkpoint work

  // ---- import: a checkpoint, or (--dummy-weights) a config alone
  const dummySrc = opts.dummyWeights ? resolveDummyConfig(opts.config ?? modelDir) : null;
  const quant = checkQuantOptions(opts);
  const qb = new QuantizedBuild(opts, quant, buildEngine);   // flags checked here; float twin, AWQ, accuracy gate
  const ckpt = dummySrc ? null : openCheckpoint(modelDir!);
  const packedFormat = ckpt ? readPackedFormat(ckpt.config) : null;
  if (packedFormat && opts.quantize) {
    fail('BAD_ARGUMENT', `--quantize ${opts.quantize} on a checkpoint that is already quantized (${packedFormat.label})`,
      'drop --quantize: llmc repacks the checkpoint\'s own quantized weights, never re-quantizing them');
  }
  if (opts.int8Activations && !quant.scheme && !packedFormat) {
    fail('BAD_ARGUMENT', '--int8-activations needs quantized linears', 'add --quantize int8 or int4, or build a pre-quantized checkpoint');
  }
  if (packedFormat) log(`checkpoint is pre-quantized: ${packedFormat.label} (repacked bit-exactly, not re-quantized)`);
  const imported = ckpt && packedFormat ? { ...ckpt, tensors: foldPacked(ckpt.tensors, packedFormat) } : ckpt;
  const model = loadModel(imported ?? { config: dummySrc!.config, tensors: new Map() });  // canonical tensor names
  const { family, architecture, cfg } = model;
  // --reference (llmc verify): float32, no math-changing pass, CPU: what the optimized engine is checked against.
  const dtype = opts.reference ? 'float32' : opts.dtype ?? cfg.torch_dtype;
  log(`llmc build: ${architecture} (${cfg.num_layers} layers, hidden ${cfg.hidden_size}, ${cfg.num_heads} heads / ${cfg.num_kv_heads} kv heads, ` +
    `vocab ${cfg.vocab_size}) from ${ckpt ? ckpt.dir : `--config ${dummySrc!.label}`}, weights ${dtype}${dummySrc ? ' (dummy: generated at load)' : ''}`);
  const [tp, pp] = opts.reference ? [1, 1] : [opts.tpSize ?? 1, opts.ppSize ?? 1];   // the reference is one rank
  checkParallelSizes(cfg, tp, pp);
  const world = tp * pp;
  const limits = resolveLimits(opts, cfg, log);
  const decisions: QuantDecision[] = [];
  const packedTable = new Map([...model.tensors].filter(([, t]) => t.packed).map(([n, t]) => [n, t.packed!] as const));
  // The reference has no math-changing pass: no quantization (pre-quantized weights are dequantized), no fusion.
  // The pass list is known now (for the key); the AWQ scales the real quantize pass takes come after the graph.
  const keyPasses = opts.reference ? buildPipeline({ fuse: false })
    : buildPipeline({ quantize: { ...quant, packed: packedTable }, fuseRope: opts.fuseRope ?? true, ...(world > 1 ? { shard: { tp, pp, rank: 0 } } : {}) });

  // ---- content key: up to date, or in the cache (src/compiler/cache/)
  const inputs = inputFiles(ckpt, dummySrc);
  const settings = buildSettings({ dtype: DTYPES[dtype], limits, target, dummy: dummySrc ? { config: dummySrc.label, seed: opts.dummySeed ?? 0 } : null,
    reference: opts.reference ?? false, passes: keyPasses.map((p) => p.name), kvCacheDType, parallel: { tp, pp },
    quantize: opts.reference ? null : {
      ...quant, keepFloat: quant.keepFloat?.map((r) => r.source) ?? null, gated: qb.gated, awq: qb.awq,
      accuracy_budget: opts.accuracyBudget ?? null, int8_activations: opts.int8Activations ?? false,
      calib_sha256: opts.calib !== undefined && existsSync(opts.calib) ? createHash('sha256').update(readFileSync(opts.calib)).digest('hex') : null,
    } });
  const cacheDir = opts.cacheDir === undefined ? undefined : resolve(opts.cacheDir);
  // sha256 of checkpoint spans, shared by the content key and the engine's digest: each byte is hashed once.
  const spans = new SpanStore();
  const keyCheck = checkBuildKey({ outDir, settings, inputs, rehash: opts.rehash ?? false, cacheDir, log, spans });
  if (keyCheck.done) {
    log(`${outDir}: ${keyCheck.done.how}; key ${keyCheck.key().key.slice(0, 16)}`);
    return { engineDir: outDir, manifest: keyCheck.done.manifest, seconds: (performance.now() - started) / 1000, upToDate: keyCheck.done.how };
  }
  for (const line of outDirLines) log(line);
  const weights = dummySrc ? new DummyWeightTable(model, opts.dummySeed ?? 0) : resolveWeights(model);

  // ---- graph and passes
  const ctx: LayerContext = { g: new GraphBuilder(), cfg, weights, dtype: DTYPES[dtype] };
  const model0 = (family.build ?? buildDecoder)(ctx);
  checkEveryTargetUsed(weights, model0, architecture);
  const inputScales = opts.reference ? undefined : await qb.awqScales(model0, model.tensors, cfg.vocab_size, limits, log);
  // One pipeline run per rank (the passes are cheap next to writing weights); rank r's graph keeps its share.
  const ranks: Graph[] = [];
  let passes = keyPasses;
  let provenance = new NodeProvenance(model0);
  for (let rank = 0; rank < world; rank++) {
    // (The quantization decisions are the same on every rank: rank 0's are kept.)
    passes = opts.reference ? keyPasses : buildPipeline({
      quantize: { ...quant, packed: packedTable, decisions: rank === 0 ? decisions : [], inputScales }, fuseRope: opts.fuseRope ?? true, ...(world > 1 ? { shard: { tp, pp, rank } } : {}),
    });
    const dumpDir = opts.dumpIrDir && (world > 1 ? join(opts.dumpIrDir, `rank${rank}`) : opts.dumpIrDir);
    const dump = dumpDir ? irDumper(dumpDir) : undefined;
    const rankProvenance = new NodeProvenance(model0);
    dump?.(0, 'input', model0);
    const g = runPipeline(model0, passes, (i, p, g) => {
      dump?.(i + 1, p.name, g);
      rankProvenance.record(p.name, g);
    });
    if (rank === 0) provenance = rankProvenance;
    log(`passes${world > 1 ? ` (rank ${rank} of ${world}: tp ${tp} x pp ${pp})` : ''}: ${passes.map((p) => p.name).join(', ')} -> ${g.nodes.length} nodes, ${g.weights.size} weights`);
    ranks.push(g);
  }
  if (world > 1) checkRanksAgree(ranks);
  const graph = ranks[0];
  const quantization = quantizationSummary(quant, packedFormat, decisions);
  for (const line of quantizationLines(quantization)) log(line);

  // ---- target (cuda: the kernels' fatbin) and engine
  const { manifest: targetManifest, files } = buildTarget(target, { headDim: cfg.head_dim, hiddenSize: cfg.hidden_size, weightDType: DTYPES[dtype] }, env, log);
  // A gated quantized build is written to a staging directory and moved into place only once it passed.
  const writeDir = qb.gated ? makeTempDir(outDir) : outDir;
  if (qb.gated) rmSync(writeDir, { recursive: true });
  const { manifest, memory, stream, rankMemory } = writeEngine({
    outDir: writeDir, graph, ranks: world > 1 ? ranks : undefined, cfg, limits, dtype, kvCacheDType, passes: passes.map((p) => p.name),
    checkpoint: ckpt ? { ...ckpt, tensors: model.tensors } : null,
    dummy: dummySrc ? { config: dummySrc.label, seed: opts.dummySeed ?? 0, dir: dummySrc.dir, generation: dummySrc.generation } : undefined,
    target: targetManifest, files, quantization, log, provenance: provenance.nodes(), reference: opts.reference ?? false,
    buildKey: keyCheck.key, created: inputsDate(statInputs(inputs), env), spans, beforeStreaming: keyCheck.beforeStreaming,
  });
  const memDtype = quantization ? `${dtype}; quantized linears ${quantization.scheme}` : dtype;
  for (const line of memoryPlanLines(memory, limits, memDtype)) log(world > 1 ? line.replace('memory plan:', 'memory plan (rank 0):') : line);
  if (world > 1) {
    const mb = (b: number) => `${(b / (1024 * 1024)).toFixed(2)} MB`;
    log(`ranks: weights per rank ${rankMemory.map((m, r) => `rank${r} ${mb(m.weights_bytes)}`).join(', ')}`);
  }
  log(streamLine(stream, keyCheck.hashed()));
  {
    if (qb.gated) {
      try {
        const report = await qb.gate(writeDir, target.backend, cfg.vocab_size, limits, log);
        // The gate's wall time is printed, not recorded: the manifest stays a function of the inputs (reproducible).
        const { seconds: _seconds, ...figures } = report;
        (manifest.quantization as QuantizationSummary).accuracy = figures as unknown as Record<string, unknown>;
        rewriteManifest(writeDir, manifest);       // its own checksum follows (integrity.manifest_sha256)
        if (!report.passed) gateFailure(report, quantization!.scheme);
        commitTempDir(writeDir, outDir);
      } finally {
        rmSync(writeDir, { recursive: true, force: true });
      }
    } else if (quant.scheme !== undefined) {
      log(opts.dummyWeights ? 'accuracy gate skipped: dummy weights have no accuracy to measure'
        : 'accuracy gate skipped (--no-accuracy-gate): the quantized engine was not measured against the float one');
    }
  }
  if (cacheDir) {
    const k = keyCheck.key().key;
    const how = cacheStore(cacheDir, k, outDir);
    log(how === 'present' ? `cache: ${cacheDir} already holds key ${k.slice(0, 16)}` : `cache: stored as ${k.slice(0, 16)} in ${cacheDir} (${how})`);
  }
  const seconds = (performance.now() - started) / 1000;
  log(`wrote ${outDir} in ${seconds.toFixed(2)} s`);
  qb.close();   // the float twin (also removed at exit if the build fails before this)
  return { engineDir: outDir, manifest, seconds };
}

/** Writes the manifest again (after the accuracy gate added its figures), its own checksum updated. */
function rewriteManifest(dir: string, manifest: Record<string, unknown>): void {
  const integ = manifest.integrity as { manifest_sha256?: string } | undefined;
  if (integ) integ.manifest_sha256 = manifestDigest(manifest);
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
}

/** Folds a pre-quantized checkpoint's packed tensors into virtual `<module>.weight` tensors (quant/packed.ts). */
function foldPacked(tensors: Checkpoint['tensors'], format: PackedFormat): Checkpoint['tensors'] {
  const reader = new TensorReader();
  try {
    return foldPackedModules(tensors, format, reader);
  } finally {
    reader.close();
  }
}

/** --config and --dummy-seed belong to --dummy-weights; a dummy build takes its config from one place. */
function checkDummyOptions(opts: BuildOptions): void {
  if (!opts.dummyWeights) {
    if (opts.config !== undefined) fail('BAD_ARGUMENT', '--config only applies to --dummy-weights', 'add --dummy-weights, or build from a checkpoint directory without --config');
    if (opts.dummySeed !== undefined) fail('BAD_ARGUMENT', '--dummy-seed only applies to --dummy-weights');
    return;
  }
  if (opts.config !== undefined && opts.modelDir !== undefined) {
    fail('BAD_ARGUMENT', 'both HF_DIR and --config given for --dummy-weights', 'pass one: the config comes from a preset, a config.json or a checkpoint directory');
  }
  const seed = opts.dummySeed;
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32)) {
    fail('BAD_ARGUMENT', `--dummy-seed must be an integer in [0, 2^32), got ${String(seed)}`);
  }
}

export function resolveLimits(opts: BuildOptions, cfg: ModelConfig, log: (line: string) => void): Limits {
  const maxPos = cfg.max_position_embeddings;
  const maxBatch = opts.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
  const maxSeq = opts.maxSeqLen ?? Math.min(maxPos ?? DEFAULT_MAX_SEQ_LEN_CAP, DEFAULT_MAX_SEQ_LEN_CAP);
  const maxTokens = opts.maxNumTokens ?? maxSeq;
  if (maxPos !== null && maxSeq > maxPos) {
    if (cfg.position === 'learned') {
      fail('BAD_ARGUMENT', `--max-seq-len ${maxSeq} is beyond the model's ${maxPos} learned positions`, `use --max-seq-len ${maxPos} or less`);
    }
    log(`warning: --max-seq-len ${maxSeq} is beyond the model's max_position_embeddings ${maxPos}; output past ${maxPos} tokens may degrade`);
  }
  if (maxTokens < maxBatch) {
    fail('BAD_ARGUMENT', `--max-num-tokens ${maxTokens} is smaller than --max-batch-size ${maxBatch}`,
      'a decode step carries one token of every sequence: raise --max-num-tokens or lower --max-batch-size');
  }
  const why = opts.maxNumTokens === undefined ? ' (default: max_seq_len, so one prompt fits one step)' : '';
  log(`limits: max_batch_size ${maxBatch}, max_seq_len ${maxSeq}, max_num_tokens ${maxTokens}${why}`);
  if (maxTokens < maxSeq) log(`note: prompts longer than max_num_tokens ${maxTokens} take several steps to prefill`);
  return { max_batch_size: maxBatch, max_seq_len: maxSeq, max_num_tokens: maxTokens };
}

/** Rule: every mapped checkpoint tensor ends up in the graph (a mapped weight nobody reads would be dropped silently). */
function checkEveryTargetUsed(weights: WeightTable, g: Graph, architecture: string): void {
  const unused = weights.targets().filter((t) => !g.weights.has(t));
  if (unused.length > 0) throw new Error(`${architecture}: the weight map maps ${unused.join(', ')} but the graph does not use it`);
}

function irDumper(dir: string): (index: number, name: string, g: Graph) => void {
  mkdirSync(dir, { recursive: true });
  return (index, name, g) => writeFileSync(join(dir, `${String(index).padStart(2, '0')}-${name}.ir`), printGraph(g));
}
