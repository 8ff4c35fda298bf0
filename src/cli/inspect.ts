// llmc inspect ENGINE: what an engine is (manifest), what it runs (plan: nodes per op, the nodes of a layer) and
// what it needs (memory plan). --json for tools, --onnx FILE to view the plan in Netron.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { SCHEMA_HASH } from '../compiler/ir/ops.generated.js';
import { LlmcError } from '../errors.js';
import { loadAddon } from '../runtime/addon.js';
import { ENGINE_FORMAT_VERSION, rebuildCommand, type EngineManifest, type MemoryPlan } from '../runtime/manifest.js';
import { exportOnnx, readEngineFatbin, readPlan, type EngineFatbin, type Plan } from './compiler.js';
import { formatBytes, table } from './format.js';
import { nonEmpty } from './parse.js';
import { linearRows, quantizationRows } from './inspect-quant.js';
import { parseJson } from '../json-depth.js';

export interface PlanSummary {
  nodes: number;
  nodes_per_op: Record<string, number>;
  layers: number;
  /** Node names of one layer without the "l<i>." prefix, in execution order (layer 0 when all layers agree). */
  layer_nodes: string[];
  layers_identical: boolean;
  other_nodes: string[];
  weights: number;
  weight_bytes_by_dtype: Record<string, number>;
}

const LAYER_NAME = /^l(\d+)\.(.+)$/;

export function summarizePlan(plan: Plan): PlanSummary {
  const perOp: Record<string, number> = {};
  const layers = new Map<number, string[]>();
  const other: string[] = [];
  for (const n of plan.nodes) {
    perOp[n.op] = (perOp[n.op] ?? 0) + 1;
    const m = LAYER_NAME.exec(n.name);
    if (m) {
      const i = Number(m[1]);
      if (!layers.has(i)) layers.set(i, []);
      layers.get(i)!.push(m[2]);
    } else {
      other.push(n.name);
    }
  }
  const first = layers.get([...layers.keys()].reduce((a, b) => Math.min(a, b), Infinity)) ?? [];
  const key = first.join('|');
  const identical = [...layers.values()].every((names) => names.join('|') === key);
  const bytes: Record<string, number> = {};
  let weights = 0;
  for (const v of plan.values) {
    if (v.kind !== 'weight') continue;
    weights++;
    const dt = v.dtype;
    bytes[dt] = (bytes[dt] ?? 0) + v.nbytes;
  }
  return {
    nodes: plan.nodes.length,
    nodes_per_op: Object.fromEntries(Object.entries(perOp).sort((a, b) => b[1] - a[1])),
    layers: layers.size,
    layer_nodes: first,
    layers_identical: identical,
    other_nodes: other,
    weights,
    weight_bytes_by_dtype: bytes,
  };
}

function readRawManifest(dir: string): EngineManifest {
  const path = join(dir, 'config.json');
  if (!existsSync(dir)) throw new LlmcError('NOT_FOUND', `engine directory ${dir} does not exist`);
  if (!existsSync(path)) throw new LlmcError('NOT_FOUND', `${dir} is not an llmc engine (no config.json)`);
  try {
    return parseJson(readFileSync(path, 'utf8')) as EngineManifest;
  } catch (e) {
    throw new LlmcError('BAD_ENGINE', `${path} is not valid JSON (${(e as Error).message})`);
  }
}

/** "ok", or why this llmc cannot run the engine and the command that fixes it. */
function compatibility(dir: string, m: EngineManifest): string {
  if (m.format_version !== ENGINE_FORMAT_VERSION || m.schema_hash !== SCHEMA_HASH) {
    return `needs a rebuild for this llmc (format ${m.format_version} / schema ${m.schema_hash}; this llmc: ` +
      `format ${ENGINE_FORMAT_VERSION} / schema ${SCHEMA_HASH}): ${rebuildCommand(dir, m)}`;
  }
  if (m.target?.backend === 'cuda') {
    return `ok on GPUs the fatbin has code for (${m.target.archs?.join(', ') ?? '?'}${m.target.ptx ? `, newer ones through PTX ${m.target.ptx}` : ''}); ` +
      'the CPU backend refuses it';
  }
  return 'ok (runs with this llmc)';
}

/** Where the engine came from: the checkpoint, or the config of a dummy-weight build. */
function sourceText(m: EngineManifest): string {
  if (!m.dummy_weights) return m.source?.dir ?? '?';
  return `--config ${m.source?.config ?? '?'}: DUMMY WEIGHTS generated at load (seed ${m.source?.seed ?? 0}); outputs are meaningless`;
}

function memoryRows(mp: MemoryPlan | undefined, maxSeqLen?: number): [string, string][] {
  if (!mp) return [['(none)', 'the manifest has no memory_plan']];
  const rows: [string, string][] = [
    ['weights', formatBytes(mp.weights_bytes)],
    ['weights read per decode step', formatBytes(mp.decode_weight_bytes)],
    ['activations', formatBytes(mp.activation_bytes) + (mp.token_arena_bytes !== undefined && mp.logits_arena_bytes !== undefined
      ? ` (token arena ${formatBytes(mp.token_arena_bytes)}: ${mp.arena_floats_per_token} floats/token; logits arena ${formatBytes(mp.logits_arena_bytes)}: ` +
        `${mp.arena_logit_floats_per_row} floats/row x ${mp.max_logit_rows} rows)`
      : '')],
    ['KV cache per token', `${formatBytes(mp.kv_bytes_per_token)} (${mp.kv_cache_dtype ?? 'float32'}, all layers, k + v${mp.kv_cache_dtype === 'int8' || mp.kv_cache_dtype === 'fp8' ? ' + scales' : ''})`],
    ['KV cache (default budget)', formatBytes(mp.kv_cache_bytes)],
  ];
  if (mp.kv_bytes_per_token && mp.kv_cache_bytes) {
    const tokens = Math.floor(mp.kv_cache_bytes / mp.kv_bytes_per_token);
    rows.push(['tokens the KV cache holds', `${tokens}${maxSeqLen ? ` (${(tokens / maxSeqLen).toFixed(1)} x max_seq_len)` : ''}`]);
  }
  const total = (mp.weights_bytes ?? 0) + (mp.activation_bytes ?? 0) + (mp.kv_cache_bytes ?? 0);
  rows.push(['total', formatBytes(total)]);
  return rows;
}

/** "cuda sm_80,sm_90a + PTX compute_80; tp 1, pp 1" */
function targetText(m: EngineManifest): string {
  const t = m.target;
  const archs = t?.archs ? ` ${t.archs.join(',')}${t.ptx ? ` + PTX ${t.ptx}` : ''}` : '';
  return `${t?.backend ?? '?'}${archs}; tp ${m.mapping?.tp ?? 1}, pp ${m.mapping?.pp ?? 1}`;
}

function fatbinRows(fb: EngineFatbin, m: EngineManifest): [string, string][] {
  const rows: [string, string][] = [['file', `${fb.file} (${formatBytes(fb.bytes)})${fb.sha256_ok ? '' : '; its sha256 differs from the manifest: rebuild the engine'}`]];
  fb.lines.forEach((line, i) => rows.push([i === 0 ? 'code' : '', line]));
  if (m.target?.nvcc_version) rows.push(['nvcc', m.target.nvcc_version]);
  const defines = Object.entries(m.target?.defines ?? {}).map(([k, v]) => `${k}=${v}`);
  if (defines.length) rows.push(['specialised', defines.join(' ')]);
  rows.push(['kernels', fb.kernels.length ? `${fb.kernels.length}: ${fb.kernels.join(', ')}` : '(PTX compressed or absent: names unknown)']);
  return rows;
}

function printText(dir: string, m: EngineManifest, plan: Plan, s: PlanSummary, fb: EngineFatbin | null): void {
  const model = m.model ?? {};
  const pick = (k: string) => (model[k] === undefined ? undefined : String(model[k]));
  const out: string[] = [];
  out.push(`engine ${dir}`);
  out.push(table([
    ['compatibility', compatibility(dir, m)],
    ['built', `${m.created ?? '?'} by llmc ${m.llmc_version ?? '?'}`],
    ['source', sourceText(m)],
    ['target', targetText(m)],
    ['tokenizer', m.tokenizer?.present ? 'yes' : 'no (use --token-ids)'],
  ]));
  if (fb) {
    out.push('fatbin');
    out.push(table(fatbinRows(fb, m)));
  }
  out.push('model');
  const modelRows: [string, string][] = [];
  for (const k of ['architecture', 'family', 'vocab_size', 'hidden_size', 'num_layers', 'num_heads', 'num_kv_heads', 'head_dim', 'intermediate_size']) {
    const v = pick(k);
    if (v !== undefined) modelRows.push([k, v]);
  }
  out.push(table(modelRows.length ? modelRows : [['(fields)', Object.keys(model).join(', ')]]));
  out.push('build');
  out.push(table([
    ['dtype', String(m.build?.dtype ?? '?')],
    ['kv_cache_dtype', String(m.build?.kv_cache_dtype ?? 'float32')],
    ['max_batch_size', String(m.build?.max_batch_size ?? '?')],
    ['max_seq_len', String(m.build?.max_seq_len ?? '?')],
    ['max_num_tokens', String(m.build?.max_num_tokens ?? '?')],
    ['passes', (m.build?.passes ?? []).join(' -> ') || '?'],
  ]));
  const ranks = m.mapping?.ranks ?? [];
  if (ranks.length > 1) {
    out.push(`ranks: ${ranks.length} (tp ${m.mapping?.tp} x pp ${m.mapping?.pp}; the plan below is rank 0's; docs/parallel.md)`);
    out.push(table(ranks.map((r) => [r.file, `tp ${r.tp_rank} pp ${r.pp_rank}: layers ${r.first_layer}..${r.first_layer + r.num_layers - 1}, ` +
      `${r.num_heads} heads / ${r.num_kv_heads} kv heads, vocab rows ${r.vocab_start}..${r.vocab_start + r.vocab_size - 1}, weights ${formatBytes(r.weights_bytes)}`])));
  }
  out.push(`plan: ${s.nodes} nodes, ${s.weights} weights (${Object.entries(s.weight_bytes_by_dtype).map(([d, b]) => `${d} ${formatBytes(b)}`).join(', ')})`);
  out.push(table(Object.entries(s.nodes_per_op).map(([op, n]) => [op, String(n)])));
  if (s.layers > 0) {
    out.push(`layers: ${s.layers}${s.layers_identical ? ', each' : '; layer 0'}: ${s.layer_nodes.join(' -> ')}`);
  }
  if (s.other_nodes.length) out.push(`outside layers: ${s.other_nodes.join(', ')}`);
  const quant = quantizationRows(m.quantization, plan);
  if (quant.length) {
    out.push('quantization');
    out.push(table(quant));
  }
  out.push('memory plan');
  out.push(table(memoryRows(m.memory_plan, m.build?.max_seq_len)));
  process.stdout.write(`${out.join('\n')}\n`);
}

/** The CPU kernel path each op kind takes on this machine for the engine's weight dtype (docs/cpu-kernels.md). */
function runtimePaths(m: EngineManifest): Record<string, unknown> {
  const dtype = m.build?.dtype === 'float16' ? 'f16' : m.build?.dtype === 'bfloat16' ? 'bf16' : 'f32';
  return { weight_dtype: dtype, ...(JSON.parse(loadAddon().plannedKernelPaths(dtype)) as Record<string, unknown>) };
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .summary('show what an engine contains')
    .description('Show an engine\'s manifest, plan (nodes per op, the nodes of each layer) and memory plan.')
    .argument('<engine_dir>', 'engine directory')
    .option('--json', 'print one JSON object: manifest, plan summary, memory plan')
    .option('--onnx <file>', 'also export the plan as ONNX (custom-domain ops) for viewing in Netron', nonEmpty('--onnx'))
    .option('--runtime', 'also show what this machine runs it with: CPU features, SIMD level, the kernel path of each op')
    .action(async (dir: string, flags: { json?: boolean; onnx?: string; runtime?: boolean }) => {
      const manifest = readRawManifest(dir);
      const plan = await readPlan(dir);
      const summary = summarizePlan(plan);
      const fatbin = await readEngineFatbin(dir, manifest.target);
      if (flags.onnx) await exportOnnx(dir, flags.onnx);
      const runtime = flags.runtime ? runtimePaths(manifest) : null;
      if (flags.json) {
        const linears = manifest.quantization ? { linears: linearRows(plan) } : {};
        process.stdout.write(`${JSON.stringify({ manifest, plan: summary, memory_plan: manifest.memory_plan ?? null, ...linears, ...(fatbin ? { fatbin } : {}), ...(flags.onnx ? { onnx: flags.onnx } : {}), ...(runtime ? { runtime } : {}) })}\n`);
        return;
      }
      printText(dir, manifest, plan, summary, fatbin);
      if (runtime) {
        process.stdout.write(`runtime (this machine, CPU backend, ${String(runtime.weight_dtype)} weights; LLMC_SIMD can lower the level):\n`);
        process.stdout.write(`${table(Object.entries(runtime).filter(([k]) => k !== 'weight_dtype').map(([k, v]) => [k, String(v)]))}\n`);
      }
      if (flags.onnx) process.stdout.write(`wrote ${flags.onnx}\n`);
    });
}
