// llmc diff A B: what differs between two engines. Settings (the manifest, flattened, without `created` and the
// derived `integrity`), the op schema hash, the plan (nodes by name: added, removed, changed op / inputs /
// attrs), the memory plan, and every weight both hold (dtype, shape, max abs difference of the values as f32).
// Engines of different models (architecture or dimensions) are said to be so, and their weights not compared.
import { resolve } from 'node:path';
import type { Plan, PlanNode, PlanWeightValue } from './format.js';
import { readManifest, readPlan } from './reader.js';
import { WeightValues } from './weight-values.js';

export interface Change { key: string; a: unknown; b: unknown }
export interface WeightDiff { name: string; dtype: [string, string]; shape: [number[], number[]]; max_abs: number | null; note?: string }

export interface EngineDiff {
  a: string;
  b: string;
  same_model: boolean;
  model_difference: string | null;     // one sentence when the models differ
  settings: Change[];
  schema_hash: [string, string] | null;
  nodes: { added: string[]; removed: string[]; changed: Change[] };
  memory_plan: Change[];
  weights: { added: string[]; removed: string[]; changed: WeightDiff[]; compared: number };
  identical: boolean;
}

const FLOAT = new Set(['f32', 'f16', 'bf16']);
const IGNORED = new Set(['created', 'integrity', 'memory_plan', 'schema_hash', 'provenance', 'build_key']);

function flatten(o: unknown, prefix: string, out: Map<string, unknown>): void {
  if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, o);
  }
}

function changes(a: Record<string, unknown>, b: Record<string, unknown>, skip: Set<string> = new Set()): Change[] {
  const fa = new Map<string, unknown>(), fb = new Map<string, unknown>();
  for (const [k, v] of Object.entries(a)) if (!skip.has(k)) flatten(v, k, fa);
  for (const [k, v] of Object.entries(b)) if (!skip.has(k)) flatten(v, k, fb);
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  return keys.filter((k) => JSON.stringify(fa.get(k)) !== JSON.stringify(fb.get(k))).map((k) => ({ key: k, a: fa.get(k), b: fb.get(k) }));
}

function describeModel(m: Record<string, unknown>): string {
  const model = (m.model ?? {}) as Record<string, unknown>;
  return `${String(model.architecture ?? model.family ?? '?')}, ${String(model.num_layers)} layers, hidden ${String(model.hidden_size)}, vocab ${String(model.vocab_size)}`;
}

const MODEL_IDENTITY = ['architecture', 'family', 'num_layers', 'hidden_size', 'num_heads', 'num_kv_heads', 'head_dim', 'vocab_size', 'intermediate_size'];

function nodeSig(plan: Plan, n: PlanNode): string {
  const name = (id: number) => (id < 0 ? '-' : plan.values[id].name);
  return JSON.stringify({ op: n.op, inputs: n.inputs.map(name), outputs: n.outputs.map(name), attrs: n.attrs });
}

export function diffEngines(aDir: string, bDir: string): EngineDiff {
  const a = resolve(aDir), b = resolve(bDir);
  const ma = readManifest(a), mb = readManifest(b);
  const pa = readPlan(a), pb = readPlan(b);
  const modelA = (ma.model ?? {}) as Record<string, unknown>, modelB = (mb.model ?? {}) as Record<string, unknown>;
  const differs = MODEL_IDENTITY.filter((k) => JSON.stringify(modelA[k]) !== JSON.stringify(modelB[k]));
  const sameModel = differs.length === 0;

  const settings = changes(ma, mb, IGNORED);
  const schema: [string, string] | null = ma.schema_hash === mb.schema_hash ? null : [String(ma.schema_hash), String(mb.schema_hash)];
  const memory = changes((ma.memory_plan ?? {}) as Record<string, unknown>, (mb.memory_plan ?? {}) as Record<string, unknown>);

  const na = new Map(pa.plan.nodes.map((n) => [n.name, n])), nb = new Map(pb.plan.nodes.map((n) => [n.name, n]));
  const nodes = {
    added: [...nb.keys()].filter((k) => !na.has(k)),
    removed: [...na.keys()].filter((k) => !nb.has(k)),
    changed: [...na.keys()].filter((k) => nb.has(k) && nodeSig(pa.plan, na.get(k)!) !== nodeSig(pb.plan, nb.get(k)!))
      .map((k) => ({ key: k, a: JSON.parse(nodeSig(pa.plan, na.get(k)!)), b: JSON.parse(nodeSig(pb.plan, nb.get(k)!)) })),
  };

  const wa = new Map(pa.plan.values.filter((v): v is PlanWeightValue => v.kind === 'weight').map((v) => [v.name, v]));
  const wb = new Map(pb.plan.values.filter((v): v is PlanWeightValue => v.kind === 'weight').map((v) => [v.name, v]));
  const weights: EngineDiff['weights'] = {
    added: [...wb.keys()].filter((k) => !wa.has(k)), removed: [...wa.keys()].filter((k) => !wb.has(k)), changed: [], compared: 0,
  };
  if (sameModel) {
    const ra = new WeightValues(a, pa.header.dataOffset), rb = new WeightValues(b, pb.header.dataOffset);
    try {
      for (const [name, x] of wa) {
        const y = wb.get(name);
        if (!y) continue;
        weights.compared++;
        const base = { name, dtype: [x.dtype, y.dtype] as [string, string], shape: [x.shape, y.shape] as [number[], number[]] };
        if (JSON.stringify(x.shape) !== JSON.stringify(y.shape)) {
          weights.changed.push({ ...base, max_abs: null, note: 'shapes differ' });
          continue;
        }
        if (x.dummy || y.dummy) {
          if (JSON.stringify(x.dummy) !== JSON.stringify(y.dummy) || x.dtype !== y.dtype) weights.changed.push({ ...base, max_abs: null, note: 'dummy generators differ' });
          continue;
        }
        const bx = ra.raw(x)!, by = rb.raw(y)!;
        if (x.dtype === y.dtype && bx.equals(by)) continue;
        if (!FLOAT.has(x.dtype) || !FLOAT.has(y.dtype)) {      // quantized codes, scales as int: bytes only
          let n = 0;
          for (let i = 0; i < Math.min(bx.length, by.length); i++) n += bx[i] !== by[i] ? 1 : 0;
          weights.changed.push({ ...base, max_abs: null, note: x.dtype === y.dtype ? `${n} of ${bx.length} bytes differ` : 'dtypes differ' });
          continue;
        }
        const fx = ra.f32(x)!, fy = rb.f32(y)!;
        let m = 0;
        for (let i = 0; i < fx.length; i++) {
          const d = Math.abs(fx[i] - fy[i]);
          if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
        }
        weights.changed.push({ ...base, max_abs: m });
      }
    } finally {
      ra.close();
      rb.close();
    }
  }
  const identical = sameModel && settings.length === 0 && schema === null && memory.length === 0 && nodes.added.length === 0 &&
    nodes.removed.length === 0 && nodes.changed.length === 0 && weights.added.length === 0 && weights.removed.length === 0 && weights.changed.length === 0;
  return {
    a, b, same_model: sameModel,
    model_difference: sameModel ? null : `these are engines of different models: ${a} is ${describeModel(ma)}; ${b} is ${describeModel(mb)} (${differs.join(', ')} differ)`,
    settings, schema_hash: schema, nodes, memory_plan: memory, weights, identical,
  };
}
