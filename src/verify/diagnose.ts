// What produced the first bad value: its node's weights (compared with the reference's, allowing for the rounding
// of the engine's weight dtype), the pass that made the node (the manifest's provenance), or its kernel.
import type { Plan, PlanNode, PlanWeightValue } from '../compiler/engine/format.js';
import type { WeightValues } from '../compiler/engine/weight-values.js';

export interface WeightCheck {
  weight: string;
  reference: string[];        // the reference weights it holds (`name rows a-b` / `columns a-b`: a tensor-parallel rank's part)
  dtype: string;
  max_abs: number;
  bad_elements: number;       // beyond the dtype's rounding of the reference value
  first_bad_index: number | null;
  ok: boolean;
}

export interface Diagnosis {
  node: string;
  op: string;
  pass: string | null;        // the pass that made or changed the node; null: as the layer builders wrote it
  kernel: string;             // `<op> on <backend>`
  weights: WeightCheck[];
  cause: string;              // one sentence
}

const ROUNDING: Record<string, number> = { f32: 0, f16: 2 ** -11, bf16: 2 ** -8 };
const FLOAT_DTYPES = new Set(Object.keys(ROUNDING));

function weightOf(plan: Plan, id: number): PlanWeightValue | null {
  const v = plan.values[id];
  return v?.kind === 'weight' ? v : null;
}

// A fused op whose weights are those of the reference op it replaced: that op, and its input slot for each of the
// fused op's (-1: none, such as linear_rope's inv_freq, not compared).
const WEIGHTS_OF: Record<string, { op: string; slots: number[] }> = { linear_rope: { op: 'linear', slots: [0, 1, -1, 2] } };

/** The reference nodes that compute what `node` computes (the same node, or the members of a fused node). */
function counterparts(engine: Plan, reference: Plan, node: PlanNode): PlanNode[] {
  // a vocab-parallel rank's part of the embedding; a fused op whose weights are those of the op it replaced
  const op = node.op === 'embedding_shard' ? 'embedding' : WEIGHTS_OF[node.op]?.op ?? node.op;
  const same = reference.nodes.find((n) => n.name === node.name && n.op === op);
  if (same) return [same];
  const split = engine.nodes.find((n) => n.op === 'split' && n.inputs[0] === node.outputs[0]);
  if (!split) return [];
  const producerOf = (name: string) => reference.nodes.find((n) => n.outputs.some((x) => reference.values[x].name === name));
  const producers = split.outputs.map((o) => {
    let p = producerOf(engine.values[o].name);
    // linear_rope's columns are the reference's rope outputs: their weights are the linear's before the rope.
    if (p?.op === 'rope' && node.op === 'linear_rope' && p.inputs[0] >= 0) p = producerOf(reference.values[p.inputs[0]].name);
    return p?.op === op ? p : undefined;
  });
  return producers.every((p) => p !== undefined) ? (producers as PlanNode[]) : [];
}

/**
 * A tensor-parallel rank's part of the reference weights ([start, count] ranges): rows[i], the rows of counterpart
 * i's weights (a column-parallel linear: the columns of the value it makes; undefined: all); cols, the input columns
 * of 2-D weights (a row-parallel linear: the columns of its input the rank holds).
 */
export interface WeightSlice { rows?: ([number, number][] | undefined)[]; cols?: [number, number][] }

export function checkWeights(engine: Plan, reference: Plan, node: PlanNode, ew: WeightValues, rw: WeightValues, slice: WeightSlice = {}): WeightCheck[] {
  const rows = slice.rows ?? [];
  const refs = counterparts(engine, reference, node);
  if (refs.length === 0) return [];
  const out: WeightCheck[] = [];
  node.inputs.forEach((id, slot) => {
    const w = id >= 0 ? weightOf(engine, id) : null;
    if (!w || !FLOAT_DTYPES.has(w.dtype)) return;      // quantized codes are judged through the node's output
    const refSlot = WEIGHTS_OF[node.op]?.slots[slot] ?? slot;
    if (refSlot < 0) return;
    const parts = refs.map((r) => (r.inputs[refSlot] >= 0 ? weightOf(reference, r.inputs[refSlot]) : null));
    if (parts.some((p) => p === null || !FLOAT_DTYPES.has(p.dtype))) return;
    const x = ew.f32(w);
    const ys = parts.map((p, i) => {
      const y = rw.f32(p!);
      const r = y && rows[i] ? rowsOf(y, p!.shape, rows[i]!) : y;
      return r && slice.cols && p!.shape.length === 2 ? colsOf(r, p!.shape[1], slice.cols) : r;
    });
    if (x === null || ys.some((y) => y === null)) return;
    const y = new Float32Array(ys.reduce((a, b) => a + b!.length, 0));
    let at = 0;
    for (const p of ys) { y.set(p!, at); at += p!.length; }
    if (y.length !== x.length) return;
    const rel = ROUNDING[w.dtype] ?? 0;
    let maxAbs = 0, bad = 0, firstBad: number | null = null;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
      if (!(d <= Math.abs(y[i]) * rel * 1.0001 + 1e-30 + (w.dtype === 'f32' ? 0 : 2 ** -24))) {
        bad++;
        if (firstBad === null) firstBad = i;
      }
    }
    const ranges = (rs: [number, number][]) => rs.map(([s, c]) => `${s}-${s + c - 1}`).join(',');
    const label = (name: string, i: number) => (rows[i] ? `${name} rows ${ranges(rows[i]!)}` : slice.cols && parts[i]!.shape.length === 2 ? `${name} columns ${ranges(slice.cols)}` : name);
    out.push({ weight: w.name, reference: parts.map((p, i) => label(p!.name, i)), dtype: w.dtype, max_abs: maxAbs, bad_elements: bad, first_bad_index: firstBad, ok: bad === 0 });
  });
  return out;
}

/** Rows [start, count) ranges of a [rows, ...] weight (a 1-D weight: elements), in order. */
function rowsOf(y: Float32Array, shape: number[], ranges: [number, number][]): Float32Array {
  const width = shape.length === 2 ? shape[1] : 1;
  const out = new Float32Array(ranges.reduce((a, [, c]) => a + c, 0) * width);
  let at = 0;
  for (const [s, c] of ranges) {
    out.set(y.subarray(s * width, (s + c) * width), at);
    at += c * width;
  }
  return out;
}

/** Columns [start, count) ranges of each row of a [rows, width] weight. */
function colsOf(y: Float32Array, width: number, ranges: [number, number][]): Float32Array {
  const n = ranges.reduce((a, [, c]) => a + c, 0);
  const rowsN = Math.floor(y.length / width);
  const out = new Float32Array(rowsN * n);
  for (let r = 0; r < rowsN; r++) {
    let at = r * n;
    for (const [s, c] of ranges) {
      out.set(y.subarray(r * width + s, r * width + s + c), at);
      at += c;
    }
  }
  return out;
}

export function diagnose(node: PlanNode, provenance: Record<string, string | string[]>, backend: string, weights: WeightCheck[]): Diagnosis {
  const made = provenance[node.name];
  const pass = made === undefined ? null : Array.isArray(made) ? made.join(' then ') : made;
  const kernel = `${node.op} on ${backend}`;
  const badW = weights.filter((w) => !w.ok);
  let cause: string;
  if (badW.length > 0) {
    const w = badW[0];
    cause = `its weight ${w.weight} differs from the reference's ${w.reference.join(' + ')} beyond ${w.dtype} rounding ` +
      `(${w.bad_elements} elements, max abs ${w.max_abs.toExponential(3)}, first at element ${w.first_bad_index})`;
  } else if (pass) {
    cause = `node ${node.name} was made by pass ${pass}; its kernel is ${kernel}${weights.length ? ' (its weights match the reference)' : ''}`;
  } else {
    cause = `kernel ${kernel} (node ${node.name} is as the layer builders wrote it${weights.length ? ', and its weights match the reference' : ''})`;
  }
  return { node: node.name, op: node.op, pass, kernel, weights, cause };
}
