// Reads and checks ENGINE_DIR/config.json (docs/engine-format.md) before anything native is touched, so a wrong
// directory, an HF checkpoint passed by mistake or an engine of another version gets a one-line error with the fix.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildLeftovers } from '../compiler/engine/build-lock.js';
import { LlmcError } from '../errors.js';
import { SCHEMA_HASH } from '../compiler/ir/ops.generated.js';
import { parseJson } from '../json-depth.js';

/** The engine format this llmc reads and writes (LLMC_ENGINE_FORMAT_VERSION in native/include/llmc/llmc.h). */
import { FORMAT_VERSION as ENGINE_FORMAT_VERSION } from '../compiler/engine/format.js';
export { ENGINE_FORMAT_VERSION };

export interface MemoryPlan {
  weights_bytes?: number;
  decode_weight_bytes?: number;
  arena_floats_per_token?: number;
  arena_logit_floats_per_row?: number;
  max_logit_rows?: number;
  token_arena_bytes?: number;
  logits_arena_bytes?: number;
  activation_bytes?: number;
  kv_cache_dtype?: string;
  kv_bytes_per_token?: number;
  kv_cache_bytes?: number;
}

/** One rank of a sharded engine (manifest mapping.ranks; docs/parallel.md). */
export interface RankEntry {
  rank: number; file: string; tp_rank: number; pp_rank: number; first_layer: number; num_layers: number;
  num_heads: number; num_kv_heads: number; vocab_start: number; vocab_size: number; weights_bytes: number;
  /** Tensor parallel: value -> the [start, count] column ranges of the whole model's value this rank holds. */
  columns?: Record<string, [number, number][]>;
  /** Tensor parallel: values that are this rank's share of a sum (a row-parallel linear's output before all_reduce). */
  partial_sums?: string[];
}

export interface EngineManifest {
  format_version: number;
  schema_hash: string;
  llmc_version?: string;
  created?: string;
  model: Record<string, unknown> & { vocab_size?: number; architecture?: string; family?: string };
  build: { dtype?: string; kv_cache_dtype?: string; max_batch_size?: number; max_seq_len: number; max_num_tokens?: number; passes?: string[] };
  target?: {
    backend?: string; archs?: string[]; ptx?: string; fatbin?: string; fatbin_sha256?: string; nvcc_version?: string;
    defines?: Record<string, number>; kernels?: string[];
  };
  /** llmc build --dummy-weights: no stored weights, values generated at load (outputs are meaningless). */
  dummy_weights?: boolean;
  mapping?: { world_size?: number; tp?: number; pp?: number; ranks?: RankEntry[] };
  memory_plan?: MemoryPlan;
  source?: { dir?: string; checkpoint_sha256?: string; files?: string[]; dummy_weights?: boolean; config?: string; seed?: number };
  generation?: { bos_token_id?: number | null; eos_token_ids?: number[]; pad_token_id?: number | null };
  tokenizer?: { present?: boolean };
  /** Quantized engines (llmc build --quantize, or a pre-quantized checkpoint): docs/quantization.md. */
  quantization?: { source?: string; scheme?: string; flags?: string[]; layers?: { node: string; scheme: string; reason?: string }[]; accuracy?: any };
}

/** The `llmc build` command that recreates this engine with the current llmc (for VERSION errors). */
/** The build command that remakes this engine; with worldSize, one for that many ranks instead. */
export function rebuildCommand(dir: string, m: Partial<EngineManifest>, worldSize?: number): string {
  const parts = m.dummy_weights
    ? ['llmc build --dummy-weights --config', m.source?.config ?? 'CONFIG', ...(m.source?.seed ? ['--dummy-seed', String(m.source.seed)] : []), '-o', dir]
    : ['llmc build', m.source?.dir ?? 'HF_DIR', '-o', dir];
  if (m.build?.dtype) parts.push('--dtype', m.build.dtype);
  if (m.build?.kv_cache_dtype && m.build.kv_cache_dtype !== 'float32') parts.push('--kv-cache-dtype', m.build.kv_cache_dtype);
  if (m.target?.backend === 'cuda') parts.push('--target', 'cuda', ...(m.target.archs?.length ? ['--cuda-arch', m.target.archs.join(',')] : []));
  if (m.quantization?.flags?.length) parts.push(...m.quantization.flags);
  if (m.build?.max_batch_size) parts.push('--max-batch-size', String(m.build.max_batch_size));
  if (m.build?.max_seq_len) parts.push('--max-seq-len', String(m.build.max_seq_len));
  if (m.build?.max_num_tokens) parts.push('--max-num-tokens', String(m.build.max_num_tokens));
  if (worldSize && worldSize !== (m.mapping?.world_size ?? 1)) {
    parts.push('--tp-size', String(worldSize));             // the ranks you have: all of them tensor-parallel
  } else {
    if ((m.mapping?.tp ?? 1) > 1) parts.push('--tp-size', String(m.mapping!.tp));
    if ((m.mapping?.pp ?? 1) > 1) parts.push('--pp-size', String(m.mapping!.pp));
  }
  parts.push('--force');
  return parts.join(' ');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function readEngineManifest(dir: string): EngineManifest {
  if (!existsSync(dir)) {
    const aside = buildLeftovers(resolve(dir)).find((x) => x.old);
    if (aside) {
      throw new LlmcError('NOT_FOUND', `engine directory ${dir} does not exist: a build killed while replacing it left the previous engine in ${aside.path}`,
        `run the build again (it puts the previous engine back first), or \`mv ${aside.path} ${dir}\``);
    }
    throw new LlmcError('NOT_FOUND', `engine directory ${dir} does not exist`);
  }
  if (!statSync(dir).isDirectory()) throw new LlmcError('NOT_FOUND', `${dir} is not a directory (an engine is a directory)`);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new LlmcError('NOT_FOUND', `${dir} is not an llmc engine (no config.json)`, `build one with \`llmc build HF_DIR -o ${dir}\``);
  }
  let raw: unknown;
  try {
    raw = parseJson(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new LlmcError('BAD_ENGINE', `${configPath} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(raw)) throw new LlmcError('BAD_ENGINE', `${configPath} is not a JSON object`);
  if (!('format_version' in raw) && ('architectures' in raw || 'model_type' in raw)) {
    throw new LlmcError('BAD_ENGINE', `${dir} is a HuggingFace checkpoint, not an llmc engine`,
      `build an engine first: \`llmc build ${dir} -o ENGINE\``);
  }
  const m = raw as Partial<EngineManifest>;
  if (typeof m.format_version !== 'number') throw new LlmcError('BAD_ENGINE', `${configPath} has no format_version`);
  if (m.format_version !== ENGINE_FORMAT_VERSION) {
    throw new LlmcError('VERSION', `${dir} is engine format ${m.format_version}; this llmc reads format ${ENGINE_FORMAT_VERSION}`,
      `rebuild it: \`${rebuildCommand(dir, m)}\``);
  }
  if (m.schema_hash !== SCHEMA_HASH) {
    throw new LlmcError('VERSION', `${dir} was built with op schema ${String(m.schema_hash)}; this llmc has ${SCHEMA_HASH}`,
      `rebuild it: \`${rebuildCommand(dir, m)}\``);
  }
  if (!isObject(m.model)) throw new LlmcError('BAD_ENGINE', `${configPath} has no "model" object`);
  if (!isObject(m.build) || typeof m.build.max_seq_len !== 'number') {
    throw new LlmcError('BAD_ENGINE', `${configPath} has no build.max_seq_len`);
  }
  if (!existsSync(join(dir, 'rank0.engine'))) {
    throw new LlmcError('BAD_ENGINE', `${dir} has config.json but no rank0.engine (an interrupted build?)`,
      `rebuild it: \`${rebuildCommand(dir, m)}\``);
  }
  return m as EngineManifest;
}
