// quantization_config of a pre-quantized HF checkpoint (config.json) -> the one PackedFormat llmc repacks from.
// Implemented: GPTQ v1 (bits 4/8, any group size, desc_act, sym), AWQ GEMM (4-bit, zero_point), compressed-tensors
// pack-quantized (int4/int8 weight-only, group or channel, symmetric or not) and float-quantized (FP8 E4M3
// weight-only, per channel). Every other variant is an UNSUPPORTED error naming the field and its value.
import { fail } from '../../errors.js';

export type PackedKind = 'gptq' | 'awq' | 'ct_int' | 'ct_fp8';

export interface PackedFormat {
  kind: PackedKind;
  bits: 4 | 8;
  /** Columns per scale; null = one group per row (per output channel): the module's in_features. */
  groupSize: number | null;
  symmetric: boolean;
  /** GPTQ act-order: g_idx permutes the input columns. */
  descAct: boolean;
  /** Module names (last dotted part, or a full name) kept in float. */
  ignore: string[];
  label: string;       // for messages and the manifest, e.g. "gptq int4 g32 sym desc_act"
}

type Obj = Record<string, unknown>;

const where = 'config.json quantization_config';

function unsupported(field: string, value: unknown, fix = 'llmc reads GPTQ v1, AWQ GEMM and compressed-tensors (pack-quantized int4/int8, float-quantized fp8) checkpoints'): never {
  return fail('UNSUPPORTED', `${where}.${field} = ${JSON.stringify(value)} is not supported`, fix);
}

function bits(q: Obj, field: string): 4 | 8 {
  const b = q[field];
  if (b !== 4 && b !== 8) unsupported(field, b, 'llmc reads 4-bit and 8-bit quantized weights');
  return b;
}

function groupSize(q: Obj, field: string): number | null {
  const g = q[field];
  if (g === -1 || g === null || g === undefined) return null;
  if (!Number.isSafeInteger(g) || (g as number) <= 0) unsupported(field, g, 'group_size must be a positive integer, or -1 for one group per output channel');
  return g as number;
}

/** null when config.json has no quantization_config (a float checkpoint). */
export function readPackedFormat(config: Obj): PackedFormat | null {
  const raw = config.quantization_config;
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('BAD_CHECKPOINT', `${where} is not an object`);
  const q = raw as Obj;
  const method = q.quant_method;
  switch (method) {
    case 'gptq': return gptq(q);
    case 'awq': return awq(q);
    case 'compressed-tensors': return compressedTensors(q);
    default: return unsupported('quant_method', method);
  }
}

function gptq(q: Obj): PackedFormat {
  const fmt = q.checkpoint_format ?? 'gptq';
  if (fmt !== 'gptq') unsupported('checkpoint_format', fmt, 'llmc reads GPTQ v1 (checkpoint_format "gptq"); convert v2 checkpoints to v1');
  if (q.static_groups === true) unsupported('static_groups', true);
  const skip = q.modules_to_not_convert;
  if (skip !== undefined && skip !== null && !(Array.isArray(skip) && skip.length === 0)) unsupported('modules_to_not_convert', skip);
  if (q.is_marlin_format === true) unsupported('is_marlin_format', true, 'llmc reads the plain GPTQ layout, not Marlin-repacked weights');
  const b = bits(q, 'bits');
  const g = groupSize(q, 'group_size');
  const sym = q.sym === undefined ? true : q.sym === true;
  const descAct = q.desc_act === true;
  return { kind: 'gptq', bits: b, groupSize: g, symmetric: sym, descAct, ignore: ['lm_head'], label: `gptq int${b} ${g ? `g${g}` : 'per-channel'} ${sym ? 'sym' : 'asym'}${descAct ? ' desc_act' : ''}` };
}

function awq(q: Obj): PackedFormat {
  const version = String(q.version ?? 'gemm').toLowerCase();
  if (version !== 'gemm') unsupported('version', q.version, 'llmc reads AWQ GEMM checkpoints (not GEMV, Marlin or exllama layouts)');
  if (q.zero_point === false) unsupported('zero_point', false, 'llmc reads AWQ GEMM checkpoints with zero points');
  const skip = q.modules_to_not_convert;
  if (skip !== undefined && skip !== null && !(Array.isArray(skip) && skip.length === 0)) unsupported('modules_to_not_convert', skip);
  const b = q.w_bit ?? q.bits;
  if (b !== 4) unsupported(q.w_bit !== undefined ? 'w_bit' : 'bits', b, 'llmc reads 4-bit AWQ checkpoints');
  const g = groupSize(q, q.q_group_size !== undefined ? 'q_group_size' : 'group_size');
  if (g === null) unsupported('group_size', q.group_size, 'AWQ GEMM checkpoints have a positive group size');
  return { kind: 'awq', bits: 4, groupSize: g, symmetric: false, descAct: false, ignore: ['lm_head'], label: `awq int4 g${g}` };
}

function compressedTensors(q: Obj): PackedFormat {
  const status = q.quantization_status;
  if (status !== 'compressed') unsupported('quantization_status', status, 'llmc reads compressed checkpoints (quantization_status "compressed")');
  const format = q.format;
  if (format !== 'pack-quantized' && format !== 'float-quantized') unsupported('format', format);
  const sparsity = q.sparsity_config;
  if (sparsity && typeof sparsity === 'object' && Object.keys(sparsity).length > 0) unsupported('sparsity_config', sparsity);
  if (q.kv_cache_scheme !== undefined && q.kv_cache_scheme !== null) unsupported('kv_cache_scheme', q.kv_cache_scheme, 'use llmc build --kv-cache-dtype instead');
  const groups = q.config_groups;
  if (!groups || typeof groups !== 'object' || Object.keys(groups).length !== 1) unsupported('config_groups', groups, 'llmc reads one config group targeting every Linear');
  const [name, group] = Object.entries(groups as Obj)[0] as [string, Obj];
  const at = `config_groups.${name}`;
  if (!group || typeof group !== 'object' || Array.isArray(group)) unsupported(at, group, 'a config group is an object with targets and weights');
  const targets = group.targets;
  if (!Array.isArray(targets) || targets.length !== 1 || targets[0] !== 'Linear') unsupported(`${at}.targets`, targets);
  for (const k of ['input_activations', 'output_activations']) {
    if (group[k] !== undefined && group[k] !== null) unsupported(`${at}.${k}`, group[k], 'llmc reads weight-only quantized checkpoints');
  }
  const w = group.weights as Obj | undefined;
  if (!w || typeof w !== 'object') unsupported(`${at}.weights`, w);
  if (w.actorder !== undefined && w.actorder !== null) unsupported(`${at}.weights.actorder`, w.actorder);
  if (w.block_structure !== undefined && w.block_structure !== null) unsupported(`${at}.weights.block_structure`, w.block_structure);
  if (w.dynamic === true) unsupported(`${at}.weights.dynamic`, true);
  const b = bits(w, 'num_bits');
  const strategy = w.strategy;
  if (strategy !== 'group' && strategy !== 'channel') unsupported(`${at}.weights.strategy`, strategy, 'llmc reads group and channel strategies');
  const g = strategy === 'group' ? groupSize(w, 'group_size') : null;
  if (strategy === 'group' && g === null) unsupported(`${at}.weights.group_size`, w.group_size);
  const sym = w.symmetric !== false;
  const ignore = Array.isArray(q.ignore) ? q.ignore.map(String) : [];
  if (w.type === 'float') {
    if (format !== 'float-quantized' || b !== 8) unsupported(`${at}.weights.type`, w.type, 'llmc reads float-quantized FP8 (8-bit) weights');
    if (strategy !== 'channel') unsupported(`${at}.weights.strategy`, strategy, 'llmc reads FP8 weights with per-channel scales');
    if (!sym) unsupported(`${at}.weights.symmetric`, false);
    return { kind: 'ct_fp8', bits: 8, groupSize: null, symmetric: true, descAct: false, ignore, label: 'compressed-tensors fp8 e4m3 per-channel' };
  }
  if (w.type !== 'int') unsupported(`${at}.weights.type`, w.type);
  if (format !== 'pack-quantized') unsupported('format', format, 'integer weights are read in the pack-quantized format');
  return { kind: 'ct_int', bits: b, groupSize: g, symmetric: sym, descAct: false, ignore, label: `compressed-tensors int${b} ${g ? `g${g}` : 'per-channel'} ${sym ? 'sym' : 'asym'}` };
}
