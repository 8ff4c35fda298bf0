// Graph -> plan JSON (docs/engine-format.md "Plan JSON"), and the placement of weights in the data section.
// Value ids are renumbered densely so they index `values`: weights first, in data-section order (the order nodes
// first read them, so a cold start pages the file in sequentially), then activations in definition order.
import { OPS, SCHEMA_HASH } from '../ir/ops.generated.js';
import { NO_LOGITS, weightBytes, type Graph, type Weight } from '../ir/graph.js';
import type { ModelConfig } from '../models/config.js';
import { dummyOf } from '../dummy/init.js';
import { alignUp, FORMAT_VERSION, KV_BLOCK_SIZE, WEIGHT_ALIGN, type Plan, type PlanDummy, type PlanValue } from './format.js';
import { KV_CACHE_DTYPES, type KvCacheDType } from './kv-dtype.js';

export interface Limits { max_batch_size: number; max_seq_len: number; max_num_tokens: number }

/** Logit rows one step may ask for (the plan's limits.max_logit_rows; the logits arena's rows): one per sampled
 *  sequence (max_batch_size), and at least 64 so a request that writes every prompt row's logits (a logits file,
 *  scoring) still prefills 64 tokens a step; never more than max_num_tokens. */
export function maxLogitRows(limits: Limits): number {
  return Math.min(Math.max(limits.max_batch_size, 64), limits.max_num_tokens);
}

/** offset null: a dummy weight (no bytes in the data section; `dummy` says how the runtime generates it). */
export interface PlacedWeight { weight: Weight; offset: number | null; nbytes: number; dummy: PlanDummy | null }
export interface WeightLayout { weights: PlacedWeight[]; dataSize: number }

export function layoutWeights(g: Graph): WeightLayout {
  const order: Weight[] = [];
  const seen = new Set<string>();
  for (const n of g.nodes) {
    for (const x of n.inputs) {
      if (x?.kind !== 'weight' || seen.has(x.name)) continue;
      seen.add(x.name);
      order.push(g.weights.get(x.name)!);
    }
  }
  let cursor = 0;
  const weights = order.map((weight): PlacedWeight => {
    const nbytes = weightBytes(weight);
    const dummy = dummyOf(weight.name, weight.source);
    if (dummy) return { weight, offset: null, nbytes, dummy };
    const offset = alignUp(cursor, WEIGHT_ALIGN);
    cursor = offset + nbytes;
    return { weight, offset, nbytes, dummy: null };
  });
  return { weights, dataSize: cursor };
}

export function buildPlan(g: Graph, cfg: ModelConfig, limits: Limits, layout: WeightLayout, kvDType: KvCacheDType = 'float32'): Plan {
  if (!g.arena) throw new Error('buildPlan needs a memory-planned graph (run plan_memory)');
  const values: PlanValue[] = [];
  const weightId = new Map<string, number>();
  for (const p of layout.weights) {
    const id = values.length;
    weightId.set(p.weight.name, id);
    const where = p.dummy ? { dummy: p.dummy } : { offset: p.offset! };
    values.push({ id, name: p.weight.name, kind: 'weight', dtype: p.weight.dtype, shape: p.weight.shape, ...where, nbytes: p.nbytes });
  }
  const actId = new Map<number, number>();
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      const a = g.acts.get(o)!;
      const id = values.length;
      actId.set(o, id);
      values.push({ id, name: a.name, kind: 'activation', rows: a.rows, width: a.width, arena_offset: a.arenaOffset! });
    }
  }
  const nodes = g.nodes.map((n) => {
    const spec = OPS[n.op];
    // One entry per schema input, -1 for an absent optional one.
    const inputs = spec.inputs.map((_, i) => {
      const x = n.inputs[i] ?? null;
      return x === null ? -1 : x.kind === 'act' ? actId.get(x.id)! : weightId.get(x.name)!;
    });
    return { op: n.op, op_id: spec.id, name: n.name, inputs, outputs: n.outputs.map((o) => actId.get(o)!), attrs: n.attrs };
  });
  return {
    format_version: FORMAT_VERSION,
    schema_hash: SCHEMA_HASH,
    model: {
      vocab_size: cfg.vocab_size, hidden_size: cfg.hidden_size, num_layers: cfg.num_layers,
      num_heads: cfg.num_heads, num_kv_heads: cfg.num_kv_heads, head_dim: cfg.head_dim,
    },
    limits: { max_batch_size: limits.max_batch_size, max_seq_len: limits.max_seq_len, max_num_tokens: limits.max_num_tokens, max_logit_rows: maxLogitRows(limits) },
    // A rank's cache holds its own layers and kv heads.
    kv_cache: {
      num_layers: g.mapping?.num_layers ?? cfg.num_layers, num_kv_heads: g.mapping?.num_kv_heads ?? cfg.num_kv_heads,
      head_dim: cfg.head_dim, dtype: KV_CACHE_DTYPES[kvDType].plan, block_size: KV_BLOCK_SIZE,
    },
    arena: { floats_per_token: g.arena.floatsPerToken, logit_floats_per_row: g.arena.logitFloatsPerRow },
    values,
    nodes,
    outputs: { logits: g.outputs.logits === NO_LOGITS ? -1 : actId.get(g.outputs.logits)! },
    ...(g.mapping ? { mapping: { ...g.mapping } } : {}),
  };
}

/** The plan as JSON text: one value or node per line, so `llmc inspect` and diffs stay readable. */
export function planJson(plan: Plan): string {
  const lines = Object.entries(plan).map(([k, v]) => {
    if (Array.isArray(v)) return `  ${JSON.stringify(k)}: [\n${v.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`;
    return `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`;
  });
  return `{\n${lines.join(',\n')}\n}\n`;
}
