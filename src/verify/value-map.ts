// Which reference values an optimized engine's activation computes. Most keep their name through the passes (a
// fused node keeps its output values, so `l0.mlp` is `l0.mlp` in both plans). A value that only the optimized
// plan has is mapped through the node that consumes it: the input of a split (the fused `l0.qkv` of
// fuse_sibling_linears) is its outputs side by side, so columns [0, q) of `l0.qkv` are the reference `l0.q`,
// and so on (after fuse_linear_rope, `l0.q_rope`: a linear_rope output is always mapped through its split).
// Values with neither are listed as unmapped (nothing to compare them with).
// A tensor-parallel rank (docs/parallel.md) holds some values in part; the manifest says which
// (mapping.ranks[r].columns / partial_sums, written from the shard pass): a column-sharded value (its heads of
// q/k/v and the attention output, its share of gate/up, its vocabulary rows of the logits) is compared with those
// columns of the reference value; the output of an all_reduce or all_gather is the whole value its input is a
// part of; a partial sum (a row-parallel linear before its all_reduce) is not compared alone.
import type { Plan, PlanActivationValue, PlanNode } from '../compiler/engine/format.js';

/** Columns [col0, col1) of the engine value are the reference value `ref` (or its columns `ref_cols`, in order). */
export interface RefPart { ref: string; col0: number; col1: number; ref_cols?: [number, number][] }
export interface MappedValue {
  name: string;
  width: number;
  node: PlanNode;              // the node that computes it in the optimized plan
  parts: RefPart[] | null;     // null: no reference value (unmapped), or a partial sum
  fused: boolean;              // parts are slices of this value
  partial: boolean;            // a tensor-parallel partial sum: not compared alone (its all_reduce output is)
}

/** What a tensor-parallel rank holds in part (the manifest's mapping.ranks[r]); absent: every value is whole. */
export interface RankShards { columns: Record<string, [number, number][]>; partial: Set<string> }

export function rankShards(entry: { columns?: Record<string, [number, number][]>; partial_sums?: string[] } | undefined): RankShards | undefined {
  if (!entry || (entry.columns === undefined && entry.partial_sums === undefined)) return undefined;
  return { columns: entry.columns ?? {}, partial: new Set(entry.partial_sums ?? []) };
}

export function activations(plan: Plan): Map<string, PlanActivationValue> {
  const out = new Map<string, PlanActivationValue>();
  for (const v of plan.values) if (v.kind === 'activation') out.set(v.name, v);
  return out;
}

/** The reference side: value name -> width (from its plan, or from the index of reference dumps). */
export function planWidths(plan: Plan): Map<string, number> {
  return new Map([...activations(plan)].map(([k, v]) => [k, v.width]));
}

/** Every activation of the optimized plan, in execution order, with what it is compared against. */
export function mapValues(engine: Plan, refWidths: Map<string, number>, shards?: RankShards): MappedValue[] {
  const name = (id: number) => engine.values[id].name;
  const splitOf = new Map<number, PlanNode>();   // value id -> the split that reads it
  for (const n of engine.nodes) if (n.op === 'split') splitOf.set(n.inputs[0], n);
  /** The reference columns that `width` engine columns of value `ref` are; null when they do not fit. */
  const colsOf = (ref: string, width: number): [number, number][] | undefined | null => {
    const whole = refWidths.get(ref);
    if (whole === undefined) return null;
    const cols = shards?.columns[ref];
    if (!cols) return whole === width ? undefined : null;
    const fits = cols.every(([s, c]) => Number.isInteger(s) && Number.isInteger(c) && s >= 0 && c > 0 && s + c <= whole);
    return fits && cols.reduce((a, [, c]) => a + c, 0) === width ? cols : null;
  };
  const part = (ref: string, col0: number, col1: number, cols: [number, number][] | undefined): RefPart =>
    (cols ? { ref, col0, col1, ref_cols: cols } : { ref, col0, col1 });
  const out: MappedValue[] = [];
  for (const node of engine.nodes) {
    for (const id of node.outputs) {
      const v = engine.values[id] as PlanActivationValue;
      const base = { name: v.name, width: v.width, node, fused: false, partial: false };
      if (shards?.partial.has(v.name)) {
        out.push({ ...base, parts: null, partial: true });
        continue;
      }
      // linear_rope's output keeps the linear's name but its q/k columns are rotated: a reference value of that name
      // (a checkpoint's own fused qkv, as gpt_neox and falcon have) is the linear before the rope, so such a value is
      // mapped through its split, whose outputs are the reference's rope outputs (and v).
      const rotated = node.op === 'linear_rope' && splitOf.has(id);
      const cols = rotated ? null : colsOf(v.name, v.width);
      if (cols !== null) {
        out.push({ ...base, parts: [part(v.name, 0, v.width, cols)] });
        continue;
      }
      // The joined shards: an all_reduce (the sum of the partials) or all_gather (every rank's columns) output is
      // the whole value its input is this rank's part of.
      if ((node.op === 'all_reduce' || node.op === 'all_gather') && node.inputs[0] >= 0 && refWidths.get(name(node.inputs[0])) === v.width) {
        out.push({ ...base, parts: [part(name(node.inputs[0]), 0, v.width, undefined)] });
        continue;
      }
      const split = splitOf.get(id);
      const sizes = split?.attrs.sizes;
      if (split && Array.isArray(sizes) && sizes.length === split.outputs.length) {
        let col = 0;
        const ranges = split.outputs.map((o, i) => ({ ref: name(o), col0: col, col1: (col += sizes[i]) }));
        const refCols = ranges.map((p) => colsOf(p.ref, p.col1 - p.col0));
        const ok = refCols.every((c) => c !== null);
        out.push({ ...base, parts: ok ? ranges.map((p, i) => part(p.ref, p.col0, p.col1, refCols[i] ?? undefined)) : null, fused: ok });
        continue;
      }
      out.push({ ...base, parts: null });
    }
  }
  return out;
}

/** The layer a value belongs to: `l3` for `l3.attn`, else the value's own name (embed, final_norm, logits). */
export function layerOf(value: string): string {
  const m = /^(l\d+)\./.exec(value);
  return m ? m[1] : value;
}
