// llmc verify ENGINE: the engine against its unoptimized self. The reference is the same checkpoint built in
// float32 with no math-changing pass (no fusion, no quantization) for the CPU backend, from the checkpoint and
// limits the engine's manifest records (or --reference HF_DIR), or activation dumps another tool wrote
// (--reference-dumps, e.g. scripts/hf-dump.py). Both run the same greedy batch through the executor (several
// sequences per step, paged KV, prefill then decode steps) with every activation dumped; the steps computed from
// the same tokens are compared value by value (compare.ts), and the first value past the tolerance is traced to
// its node's weights, the pass that made the node, or its kernel (diagnose.ts).
// A sharded engine (--tp-size/--pp-size) runs under mpirun (sharded-run.ts), every rank dumping its own values;
// each rank's values are mapped to the reference through what the shard pass recorded (value-map.ts), compared,
// and ordered by the reference's execution order, so the first bad value (and its rank) is the first wrong one.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LlmcError } from '../errors.js';
import type { Plan } from '../compiler/engine/format.js';
import { readPlan } from '../compiler/engine/reader.js';
import { openCheckpoint } from '../compiler/hf/checkpoint.js';
import { readPackedFormat } from '../compiler/quant/checkpoint-config.js';
import { Engine } from '../runtime/engine.js';
import { readEngineManifest, type EngineManifest } from '../runtime/manifest.js';
import { TextTokenizer } from '../runtime/tokenizer.js';
import { compareDumps, type ValueReport } from './compare.js';
import { firstBad, type FirstBad } from './first-bad.js';
import { readDumpIndex } from './dump-index.js';
import { randomPrompts, readPromptsFile } from './prompts.js';
import { defaultTolerance } from './tolerance.js';
import { layerOf, mapValues, planWidths, rankShards } from './value-map.js';
import { rankDumpDir } from './rank-run.js';
import { runSharded } from './sharded-run.js';

export interface VerifyOptions {
  engineDir: string;
  backend?: 'cpu' | 'cuda';
  promptsFile?: string;
  randomPrompts?: number;          // default 4 (when no --prompts)
  seed?: number;                   // of the random prompts
  maxNewTokens?: number;           // default 4: a prefill step and 3 decode steps
  tolerance?: number;              // default: by the engine's weight dtype (tolerance.ts)
  reference?: string;              // HF_DIR; default the manifest's source.dir
  referenceDumps?: string;         // dumps written by another tool (with prompts.json)
  engineDumps?: string;            // the engine's run, dumped elsewhere (tests/cuda_emu_dump, a GPU machine): not run here
  workDir?: string;                // keep the reference engine and the dumps here (default: a temp dir, removed)
  threads?: number;
  log?: (line: string) => void;
}

/** One row per layer (per layer and rank on a sharded engine: `rank` is the rank that computed its values). */
export interface LayerRow { layer: string; rank: number; values: number; worst_value: string; max_abs: number; rel_err: number; cosine: number; ok: boolean }

export interface VerifyReport {
  engine: string;
  reference: string;
  backend: string;
  ranks: number;                   // the engine's world size (tp x pp); 1: a one-rank engine
  tp: number;
  pp: number;
  tolerance: number;
  tolerance_from: string;
  prompts: number;
  max_new_tokens: number;
  steps: number;
  steps_compared: number;
  tokens_agree: boolean;
  first_token_difference: { step: number; request: number; engine: number; reference: number } | null;
  values_compared: number;
  values_unmapped: string[];       // `name` (one-rank engines) or `name@rank<r>`
  values_partial: number;          // tensor-parallel partial sums, not compared alone (their all_reduce output is)
  layers: LayerRow[];
  values: ValueReport[];
  first_bad: FirstBad;
  ok: boolean;
}

interface RunResult { steps: number; tokens: Map<string, number> }

/** Loads an engine with LLMC_DUMP_DIR set (the backend reads it when it is made) and runs the batch. */
async function runDumped(dir: string, backend: 'cpu' | 'cuda', dumpDir: string, prompts: number[][], maxNew: number, threads: number | undefined,
  isReference: boolean): Promise<RunResult> {
  mkdirSync(dumpDir, { recursive: true });
  // The backend reads both variables when it is made. The reference is the trusted side: it never runs with the
  // planted kernel bug of the tests (LLMC_TEST_FAULT_OP).
  const env = { LLMC_DUMP_DIR: dumpDir, ...(isReference ? { LLMC_TEST_FAULT_OP: undefined } : {}) };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const set = (vals: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vals)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  };
  set(env);
  let engine: Engine;
  try {
    engine = await Engine.load(dir, { backend, numThreads: threads });
  } finally {
    set(saved);
  }
  try {
    const r = await engine.runBatch(prompts, maxNew);
    if (!existsSync(join(dumpDir, 'index.tsv'))) {
      throw new LlmcError('UNSUPPORTED', `the ${backend} backend wrote no activation dump (LLMC_DUMP_DIR)`, 'verify on a backend that dumps: --backend cpu');
    }
    return { steps: r.steps, tokens: new Map(r.tokens.map((t) => [`${t.step}/${t.request}`, t.token])) };
  } finally {
    engine.close();
  }
}

function weightDtypes(plan: Plan): Set<string> {
  const out = new Set<string>();
  for (const v of plan.values) if (v.kind === 'weight' && v.shape.length === 2) out.add(v.dtype);
  return out;
}

function sameModel(a: Record<string, unknown>, b: Record<string, unknown>): string | null {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `model.${k} is ${JSON.stringify(a[k])} in the engine and ${JSON.stringify(b[k])} in the reference`;
  }
  return null;
}

function checkMaxNew(m: EngineManifest, prompts: number[][], maxNew: number): void {
  const longest = Math.max(...prompts.map((p) => p.length));
  if (longest + maxNew > m.build.max_seq_len) {
    throw new LlmcError('BAD_ARGUMENT', `a prompt of ${longest} tokens + --max-new-tokens ${maxNew} is beyond the engine's max_seq_len ${m.build.max_seq_len}`, 'use shorter prompts or fewer new tokens');
  }
}

export async function verifyEngine(opts: VerifyOptions): Promise<VerifyReport> {
  const log = opts.log ?? (() => {});
  const engineDir = resolve(opts.engineDir);
  const manifest = readEngineManifest(engineDir);
  const enginePlan = readPlan(engineDir);
  const ranks = manifest.mapping?.world_size ?? 1;
  const rankPlans = Array.from({ length: ranks }, (_, r) => (r === 0 ? enginePlan : readPlan(engineDir, r)));
  if (manifest.dummy_weights) {
    throw new LlmcError('BAD_ARGUMENT', `${engineDir} has dummy weights (llmc build --dummy-weights): there is no checkpoint to verify it against`, 'build it from a checkpoint');
  }
  if (opts.reference !== undefined && opts.referenceDumps !== undefined) throw new LlmcError('BAD_ARGUMENT', 'pass --reference or --reference-dumps, not both');
  if (opts.engineDumps !== undefined && (opts.referenceDumps !== undefined || opts.promptsFile !== undefined || opts.randomPrompts !== undefined)) {
    throw new LlmcError('BAD_ARGUMENT', '--engine-dumps brings its own prompts (prompts.json) and needs a reference engine', 'drop --reference-dumps, --prompts and --random-prompts');
  }
  const backend = opts.backend ?? (manifest.target?.backend === 'cuda' ? 'cuda' : 'cpu');
  let maxNew = opts.maxNewTokens ?? 4;
  const vocab = enginePlan.plan.model.vocab_size;
  const engineRun = opts.engineDumps !== undefined ? readDumpMeta(resolve(opts.engineDumps), '--engine-dumps', vocab, true) : null;
  if (engineRun && opts.maxNewTokens === undefined) maxNew = engineRun.maxNew;
  let checkpointDtypes = new Set<string>();
  const tolerance = () => (opts.tolerance !== undefined
    ? { tolerance: opts.tolerance, why: '--tolerance' }
    : defaultTolerance(weightDtypes(enginePlan.plan), checkpointDtypes));

  const work = opts.workDir ? resolve(opts.workDir) : mkdtempSync(join(tmpdir(), 'llmc-verify-'));
  mkdirSync(work, { recursive: true });
  try {
    // ---- the reference side: dumps given, or a reference engine built now
    let refDumpDir: string;
    let refPlan: Plan | null = null;
    let refEngineDir: string | null = null;
    let referenceLabel: string;
    let prompts: number[][];
    if (opts.referenceDumps !== undefined) {
      refDumpDir = resolve(opts.referenceDumps);
      if (!existsSync(refDumpDir)) throw new LlmcError('NOT_FOUND', `--reference-dumps ${refDumpDir} does not exist`, 'write it with scripts/hf-dump.py');
      const meta = readDumpMeta(refDumpDir, '--reference-dumps', vocab, false);
      prompts = meta.prompts;
      if (opts.maxNewTokens === undefined) maxNew = meta.maxNew;
      referenceLabel = `dumps ${refDumpDir}`;
    } else {
      const hfDir = opts.reference ?? manifest.source?.dir;
      if (!hfDir) throw new LlmcError('BAD_ARGUMENT', `${engineDir}/config.json records no checkpoint directory`, 'pass --reference HF_DIR');
      if (!existsSync(hfDir)) {
        throw new LlmcError('NOT_FOUND', `the checkpoint ${hfDir} this engine was built from is not there any more`, 'pass --reference HF_DIR');
      }
      const packed = readPackedFormat(openCheckpoint(hfDir).config);
      if (packed) {
        throw new LlmcError('UNSUPPORTED', `${hfDir} is a pre-quantized checkpoint (${packed.label}): it has no float weights to build a float32 reference from`,
          'pass --reference with the float checkpoint it was quantized from, or --reference-dumps (scripts/hf-dump.py)');
      }
      refEngineDir = join(work, 'reference');
      log(`llmc verify: building the float32 reference (no fusion, cpu) from ${hfDir}`);
      const { buildEngine } = await import('../compiler/build.js');
      const built = await buildEngine({
        modelDir: hfDir, outDir: refEngineDir, reference: true, force: true,
        maxBatchSize: manifest.build.max_batch_size, maxSeqLen: manifest.build.max_seq_len, maxNumTokens: manifest.build.max_num_tokens,
      });
      const mismatch = sameModel(manifest.model, built.manifest.model as Record<string, unknown>);
      if (mismatch) throw new LlmcError('BAD_ARGUMENT', `the reference checkpoint ${hfDir} does not match the engine: ${mismatch}`, 'pass the checkpoint the engine was built from');
      const refSha = (built.manifest.source as { checkpoint_sha256?: string }).checkpoint_sha256;
      if (manifest.source?.checkpoint_sha256 && refSha !== manifest.source.checkpoint_sha256) {
        log(`warning: ${hfDir} is not the checkpoint the engine was built from (its config/header sha256 differs); comparing anyway`);
      }
      const stored = new Set([...openCheckpoint(hfDir).tensors.values()].map((t) => t.dtype.toLowerCase()));
      if (stored.size === 1) checkpointDtypes = stored;       // one dtype throughout: an engine in it is exact
      refPlan = readPlan(refEngineDir).plan;
      refDumpDir = join(work, 'reference-dump');
      referenceLabel = `float32 reference of ${resolve(hfDir)}`;
      prompts = engineRun ? engineRun.prompts : opts.promptsFile !== undefined
        ? readPromptsFile(opts.promptsFile, manifest.tokenizer?.present ? textEncoder(engineDir) : null, vocab)
        : randomPrompts(opts.randomPrompts ?? 4, vocab, Math.min(16, manifest.build.max_seq_len - maxNew), opts.seed ?? 0);
    }
    const maxNewTokens = maxNew;
    const tol = tolerance();
    checkMaxNew(manifest, prompts, maxNewTokens);

    // ---- run both
    log(`running ${prompts.length} prompts (${prompts.map((p) => p.length).join(', ')} tokens) + ${maxNewTokens} new tokens on ${engineRun ? 'the reference (the engine\'s run is --engine-dumps)' : backend}`);
    const engineDump = engineRun ? resolve(opts.engineDumps!) : join(work, 'engine-dump');
    // A sharded engine's dump: one folder per rank (DIR/rank<r>/).
    const dumpOf = (r: number) => (ranks > 1 ? rankDumpDir(engineDump, r) : engineDump);
    let eng: RunResult;
    if (engineRun) eng = { steps: engineRun.steps, tokens: engineRun.tokens };
    else if (ranks > 1) {
      mkdirSync(engineDump, { recursive: true });
      const r = await runSharded(engineDir, ranks, backend, engineDump, prompts, maxNewTokens, opts.threads);
      eng = { steps: r.steps, tokens: new Map(r.tokens.map((t) => [`${t.step}/${t.request}`, t.token])) };
    } else eng = await runDumped(engineDir, backend, engineDump, prompts, maxNewTokens, opts.threads, false);
    let ref: RunResult | null = null;
    if (refEngineDir) ref = await runDumped(refEngineDir, 'cpu', refDumpDir, prompts, maxNewTokens, opts.threads, true);

    // ---- which steps saw the same inputs: all up to (and including) the first whose tokens differ
    let firstDiff: VerifyReport['first_token_difference'] = null;
    const refTokens = ref?.tokens ?? readDumpMeta(refDumpDir, '--reference-dumps', vocab, false).tokens;
    for (const [key, t] of [...eng.tokens].sort((a, b) => stepOf(a[0]) - stepOf(b[0]))) {
      const r = refTokens.get(key);
      if (r !== undefined && r !== t) {
        const [step, request] = key.split('/').map(Number);
        firstDiff = { step, request, engine: t, reference: r };
        break;
      }
    }
    if (ref && ref.steps !== eng.steps) {
      throw new LlmcError('RUNTIME', `the engine ran ${eng.steps} steps and the reference ${ref.steps} for the same batch`, 'their limits differ: rebuild the engine');
    }
    const lastStep = firstDiff ? firstDiff.step : eng.steps - 1;
    const steps = Array.from({ length: lastStep + 1 }, (_, i) => i);

    // ---- compare, rank by rank
    const refEntries = readDumpIndex(refDumpDir, opts.referenceDumps ? '--reference-dumps' : 'the reference dump');
    const refWidths = refPlan ? planWidths(refPlan) : new Map(refEntries.map((e) => [e.value, e.width]));
    const mappedByRank = rankPlans.map((p, r) => mapValues(p.plan, refWidths, rankShards(manifest.mapping?.ranks?.[r])));
    // A received value (a pipeline stage's input, rank 0's logits) is what its sender computed under the same name.
    for (const mapped of mappedByRank) {
      for (const v of mapped) {
        if (v.parts || v.partial || v.node.op !== 'recv') continue;
        const from = mappedByRank[Number(v.node.attrs.peer)]?.find((x) => x.name === v.name && x.node.op !== 'recv');
        if (from) Object.assign(v, { parts: from.parts, fused: from.fused, partial: from.partial });
      }
    }
    let values: ValueReport[] = [];
    for (let r = 0; r < ranks; r++) {
      const what = ranks > 1 ? `rank ${r}'s dump` : 'the engine dump';
      if (ranks > 1 && !existsSync(dumpOf(r))) {
        throw new LlmcError('NOT_FOUND', `${what} ${dumpOf(r)} does not exist`, `a sharded engine's dump has one folder per rank: ${engineDump}/rank0 ... rank${ranks - 1}`);
      }
      const entries = readDumpIndex(dumpOf(r), what);
      values.push(...compareDumps({ dir: dumpOf(r), entries }, { dir: refDumpDir, entries: refEntries }, mappedByRank[r], steps, tol.tolerance, r));
    }
    if (ranks > 1) values = inReferenceOrder(values, refEntries);
    const compared = values.filter((v) => v.steps > 0);
    if (compared.length === 0) {
      throw new LlmcError('BAD_ARGUMENT', `no activation of the engine has a reference value in ${referenceLabel}`, 'the dumps must use llmc\'s value names (llmc build --dump-ir shows them) and the same prompts');
    }
    const provenance = (manifest as { provenance?: { nodes?: Record<string, string | string[]> } }).provenance?.nodes ?? {};
    const firstBadValue = firstBad(compared, tol.tolerance,
      { dir: engineDir, plans: rankPlans, shards: rankPlans.map((_, r) => rankShards(manifest.mapping?.ranks?.[r])), tp: manifest.mapping?.tp ?? 1 },
      refPlan && refEngineDir ? { plan: refPlan, dir: refEngineDir, dataOffset: readPlan(refEngineDir).header.dataOffset } : null, provenance, backend);
    return {
      engine: engineDir, reference: referenceLabel, backend: engineRun ? `${engineRun.backend ?? backend} (its run in --engine-dumps ${resolve(opts.engineDumps!)})` : backend,
      ranks, tp: manifest.mapping?.tp ?? 1, pp: manifest.mapping?.pp ?? 1, tolerance: tol.tolerance, tolerance_from: tol.why,
      prompts: prompts.length, max_new_tokens: maxNewTokens, steps: eng.steps, steps_compared: steps.length,
      tokens_agree: firstDiff === null, first_token_difference: firstDiff,
      values_compared: compared.length,
      values_unmapped: values.filter((v) => v.steps === 0 && !v.partial).map((v) => (ranks > 1 ? `${v.value}@rank${v.rank}` : v.value)),
      values_partial: values.filter((v) => v.partial).length,
      layers: layerTable(compared, tol.tolerance), values, first_bad: firstBadValue, ok: firstBadValue === null,
    };
  } finally {
    if (!opts.workDir) rmSync(work, { recursive: true, force: true });
  }
}

function stepOf(key: string): number {
  return Number(key.split('/')[0]);
}

/**
 * A dump made elsewhere: DIR/prompts.json ({prompts, max_new_tokens, tokens: [request][k], token_steps:
 * [request][k] = the step that produced token k, default k}) and the number of steps in DIR/index.tsv.
 */
function readDumpMeta(dir: string, flag: string, vocab: number, batch: boolean) {
  if (!existsSync(dir)) throw new LlmcError('NOT_FOUND', `${flag} ${dir} does not exist`, 'write it with scripts/hf-dump.py');
  const pj = join(dir, 'prompts.json');
  if (!existsSync(pj)) throw new LlmcError('NOT_FOUND', `${flag} ${dir} has no prompts.json (the prompts the dumps are of)`, 'write it with scripts/hf-dump.py');
  let meta: { prompts?: number[][]; max_new_tokens?: number; tokens?: number[][]; token_steps?: number[][]; backend?: string };
  try {
    meta = JSON.parse(readFileSync(pj, 'utf8'));
  } catch (e) {
    throw new LlmcError('BAD_ARGUMENT', `${pj} is not valid JSON (${(e as Error).message})`);
  }
  const prompts = meta.prompts;
  if (!Array.isArray(prompts) || prompts.length === 0 || !prompts.every((p) => Array.isArray(p) && p.length > 0 && p.every((t) => Number.isSafeInteger(t) && t >= 0 && t < vocab))) {
    throw new LlmcError('BAD_ARGUMENT', `${pj} has no "prompts" (non-empty arrays of token ids in [0, ${vocab}))`);
  }
  if (!batch && prompts.length !== 1) {
    throw new LlmcError('BAD_ARGUMENT', `${pj} must hold one prompt (reference dumps are of one sequence)`, 'write it with scripts/hf-dump.py');
  }
  const tokens = new Map<string, number>();
  meta.tokens?.forEach((toks, req) => toks.forEach((t, k) => tokens.set(`${meta.token_steps?.[req]?.[k] ?? k}/${req}`, t)));
  const maxNew = typeof meta.max_new_tokens === 'number' ? meta.max_new_tokens : 4;
  // (A sharded engine's dump has one folder per rank; rank 0 ran every step.)
  const indexDir = existsSync(join(dir, 'index.tsv')) ? dir : existsSync(join(dir, 'rank0', 'index.tsv')) ? join(dir, 'rank0') : null;
  const steps = indexDir ? Math.max(0, ...readDumpIndex(indexDir, flag).map((e) => e.step + 1)) : 0;
  return { prompts, maxNew, tokens, steps, backend: typeof meta.backend === 'string' ? meta.backend : null };
}

/** Text lines of a --prompts file go through the engine's tokenizer, loaded on first use. */
function textEncoder(engineDir: string): (text: string) => number[] {
  let tok: TextTokenizer | null | undefined;
  return (text: string) => {
    if (tok === undefined) tok = TextTokenizer.load(engineDir);
    if (!tok) throw new LlmcError('BAD_ARGUMENT', 'a --prompts line is text but the engine has no tokenizer', 'write token ids (5,17,42)');
    return tok.encode(text);
  };
}

/**
 * A sharded engine's values from every rank, in the reference's execution order (the position of the first
 * reference value each compares with; ties by rank), so that the first bad one is where the error starts, whichever
 * rank computed it. Values with no reference value keep their place at the end.
 */
function inReferenceOrder(values: ValueReport[], refEntries: { value: string }[]): ValueReport[] {
  const pos = new Map<string, number>();
  refEntries.forEach((e, i) => { if (!pos.has(e.value)) pos.set(e.value, i); });
  const key = (v: ValueReport) => {
    if (v.steps === 0) return Infinity;
    const refs = v.parts ? v.parts.map((p) => p.ref) : [v.ref ?? v.value];
    return Math.min(...refs.map((r) => pos.get(r) ?? Infinity));
  };
  return values.map((v, i) => ({ v, i, k: key(v) })).sort((a, b) => a.k - b.k || a.v.rank - b.v.rank || a.i - b.i).map((x) => x.v);
}

function layerTable(values: ValueReport[], tol: number): LayerRow[] {
  const rows = new Map<string, LayerRow>();
  for (const v of values) {
    const layer = layerOf(v.ref ?? v.value);     // an all_reduce output (`embed.all_reduce`) is in its reference value's layer
    const key = `${layer}@${v.rank}`;
    const r = rows.get(key) ?? { layer, rank: v.rank, values: 0, worst_value: v.value, max_abs: 0, rel_err: -1, cosine: 1, ok: true };
    r.values++;
    if (v.rel_err > r.rel_err) { r.rel_err = v.rel_err; r.worst_value = v.value; }
    r.max_abs = Math.max(r.max_abs, v.max_abs);
    r.cosine = Math.min(r.cosine, v.cosine);
    r.ok = r.rel_err <= tol;
    rows.set(key, r);
  }
  // Layers in order of their first value, each layer's ranks together.
  const order = new Map<string, number>();
  for (const r of rows.values()) if (!order.has(r.layer)) order.set(r.layer, order.size);
  return [...rows.values()].sort((a, b) => order.get(a.layer)! - order.get(b.layer)! || a.rank - b.rank);
}
