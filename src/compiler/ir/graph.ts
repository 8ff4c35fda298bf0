// The graph IR: a typed SSA graph over the ops of schema/ops.json (ops.generated.ts).
//
// Two kinds of values:
//   weights      named constants with a dtype and a 1-D or 2-D shape; `source` says how to compute their bytes
//                from the checkpoint (a pure transform of checkpoint tensors, or build-time constants).
//   activations  f32 matrices [rows, width], rows = 'tokens' (tokens in the step) or 'logit_rows'; each is
//                defined by exactly one node. Identified by a numeric id (printed %id).
// Nodes are kept in execution order (a topological order), which the verifier checks.
import { DTYPE_BITS, WEIGHT_DTYPES, type OpName, type WeightDType } from './ops.generated.js';
import type { WeightSource } from './weight-source.js';

// Weight dtypes come from the schema (schema/ops.json "dtypes"): f32/f16/bf16 for float weights, i8/u4/f8e4m3
// codes and i32 indices for quantized linears.
export { WEIGHT_DTYPES, DTYPE_BITS, type WeightDType };
export type FloatDType = 'f32' | 'f16' | 'bf16';
export const FLOAT_DTYPES: readonly WeightDType[] = ['f32', 'f16', 'bf16'];

export type Rows = 'tokens' | 'logit_rows';

export interface Weight {
  name: string;              // e.g. 'l0.q.weight'; unique among all values
  dtype: WeightDType;
  shape: number[];           // [n] or [rows, cols], row-major
  source: WeightSource;
}

export interface Activation {
  id: number;
  name: string;              // e.g. 'l0.attn_norm'; unique among all values
  rows: Rows;
  width: number;
  arenaOffset?: number;      // floats into its rows' arena (see ArenaWidths); set by plan_memory
  shard?: ShardPart;         // set by shard (tensor parallel): how this rank's value relates to the whole model's
}

/**
 * A tensor-parallel rank's activation against the whole model's value of the same name (llmc verify compares
 * them): `cols`, the columns of the whole value this rank holds ([start, count] ranges, in order: its heads, its
 * share of the MLP width or of the vocabulary); `partial`, this rank's share of a sum (a row-parallel linear's
 * output before its all_reduce). Absent: the rank holds the whole value.
 */
export type ShardPart = { cols: [start: number, count: number][] } | { partial: true };

export type Operand = { kind: 'act'; id: number } | { kind: 'weight'; name: string };

export type AttrValue = number | string | number[];
export type Attrs = Record<string, AttrValue>;

export interface Node {
  op: OpName;
  name: string;              // e.g. 'l0.attn_norm'; unique among nodes
  inputs: (Operand | null)[]; // by schema slot; null = absent optional input; trailing absent ones are omitted
  outputs: number[];         // activation ids
  attrs: Attrs;              // every schema attr present (defaults filled in by the builder)
}

export interface Graph {
  weights: Map<string, Weight>;      // declaration order
  acts: Map<number, Activation>;
  nodes: Node[];
  outputs: { logits: number };       // NO_LOGITS on a rank whose step ends without logits (docs/parallel.md)
  arena?: ArenaWidths;               // set by plan_memory
  mapping?: RankMapping;             // set by shard: the rank this graph runs on (absent: the one-rank engine)
}

/** The two activation arenas' widths (plan_memory): the token arena holds every 'tokens' value at max_num_tokens rows,
 *  the logits arena every 'logit_rows' value at max_logit_rows rows. An activation's arenaOffset is in its rows' arena:
 *  floats per token (tokens) or floats per row (logit_rows). */
export interface ArenaWidths { floatsPerToken: number; logitFloatsPerRow: number }

/** outputs.logits of a rank that hands its result on (a pipeline stage before the last, a tensor-parallel peer). */
export const NO_LOGITS = -1;

/**
 * Where a rank sits in a tp x pp grid: rank = pp_rank * tp + tp_rank, so a tensor-parallel group is tp consecutive
 * ranks (one machine's GPUs) and stage s holds layers [first_layer, first_layer + num_layers).
 */
export interface RankMapping {
  rank: number; world_size: number; tp: number; pp: number; tp_rank: number; pp_rank: number;
  first_layer: number; num_layers: number;     // this stage's layers (global indices)
  num_heads: number; num_kv_heads: number;     // this rank's heads (a kv head may be replicated on several ranks)
  vocab_start: number; vocab_size: number;     // this rank's rows of the embedding / LM head
}

export const act = (id: number): Operand => ({ kind: 'act', id });
export const weightRef = (name: string): Operand => ({ kind: 'weight', name });

export function cloneGraph(g: Graph): Graph {
  return structuredClone(g);
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes of a weight: sub-byte dtypes pack each row (last dim) into whole bytes, as the engine stores them. */
export function dtypeBytes(dtype: WeightDType, shape: readonly number[]): number {
  const cols = shape.length === 0 ? 1 : shape[shape.length - 1];
  const rows = numel(shape.slice(0, -1));
  return rows * Math.ceil((cols * DTYPE_BITS[dtype]) / 8);
}

export function weightBytes(w: Weight): number {
  return dtypeBytes(w.dtype, w.shape);
}

/** Next free activation id (ids need not be dense; passes remove values). */
export function nextActId(g: Graph): number {
  let m = -1;
  for (const id of g.acts.keys()) m = Math.max(m, id);
  return m + 1;
}

/** Map from activation id to the indices of the nodes that read it. */
export function actUsers(g: Graph): Map<number, number[]> {
  const users = new Map<number, number[]>();
  g.nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      if (x?.kind !== 'act') continue;
      const list = users.get(x.id) ?? [];
      if (list[list.length - 1] !== i) list.push(i);
      users.set(x.id, list);
    }
  });
  return users;
}

/** Drops weights and activations that no node references (outputs are referenced). */
export function removeUnusedValues(g: Graph): void {
  const usedW = new Set<string>();
  const usedA = new Set<number>([g.outputs.logits]);
  for (const n of g.nodes) {
    for (const x of n.inputs) {
      if (x?.kind === 'weight') usedW.add(x.name);
      else if (x?.kind === 'act') usedA.add(x.id);
    }
    for (const o of n.outputs) usedA.add(o);
  }
  for (const name of [...g.weights.keys()]) if (!usedW.has(name)) g.weights.delete(name);
  for (const id of [...g.acts.keys()]) if (!usedA.has(id)) g.acts.delete(id);
}
