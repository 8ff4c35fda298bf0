// fuse_sibling_linears: linears that read the same activation become one wider linear and a split, so the input
// is read once and a decode step makes one GEMV instead of several.
//   %q = linear(%x, @l0.q.weight); %k = linear(%x, @l0.k.weight); %v = linear(%x, @l0.v.weight)
//   ->  %qkv = linear(%x, @l0.qkv.weight); %q, %k, %v = split(%qkv) {sizes=[q, k, v]}
// with l0.qkv.weight = concat(q, k, v) rows (done by the engine writer: weight sources compose). The same rule
// fuses gate/up (l0.gate_up). Safe cases only: same weight dtype, all with bias or all without, and weights no
// other node reads (a tied embedding is never folded into something else). The split keeps the original output
// values and names, so downstream nodes are untouched. Quantized siblings (linear_q, after the quantize pass) fuse
// the same way when they share code dtype, group size and which of offsets/bias they have: qweight, scales,
// offsets and bias are each concatenated by rows (every one is per output row).
import { OPS } from '../compiler/ir/ops.generated.js';
import { cloneGraph, nextActId, removeUnusedValues, type Graph, type Node, type Operand } from '../compiler/ir/graph.js';
import { concat } from '../compiler/ir/weight-source.js';
import type { Pass } from './pass.js';

// Which inputs of a fusable op are weights concatenated along the output rows; the rest must match exactly.
const ROW_WEIGHTS: Partial<Record<Node['op'], number[]>> = { linear: [1, 2], linear_q: [1, 2, 3, 4] };

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  const weightReaders = new Map<string, number>();
  for (const n of g.nodes) for (const x of n.inputs) if (x?.kind === 'weight') weightReaders.set(x.name, (weightReaders.get(x.name) ?? 0) + 1);

  // Group candidates by (op, input, weight dtype, which optional inputs are present, attrs), in node order.
  // linear_q with a perm (GPTQ act-order) reorders its own input, so it is never fused.
  const groups = new Map<string, Node[]>();
  for (const n of g.nodes) {
    const slots = ROW_WEIGHTS[n.op];
    const x = n.inputs[0];
    if (!slots || x?.kind !== 'act' || n.inputs[1]?.kind !== 'weight') continue;
    if (n.op === 'linear_q' && n.inputs[5]) continue;
    const ws = slots.map((i) => n.inputs[i] ?? null);
    if (ws.some((w) => w !== null && (w.kind !== 'weight' || weightReaders.get(w.name) !== 1))) continue;
    const shared = n.op === 'linear_q' ? (n.inputs[6] as { name: string } | null | undefined)?.name ?? '' : '';   // AWQ input_scale: one weight for all
    const key = `${n.op}|${x.id}|${g.weights.get((n.inputs[1] as { name: string }).name)!.dtype}|${ws.map((w) => (w ? 1 : 0)).join('')}|${JSON.stringify(n.attrs)}|${shared}`;
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }

  // Declaration order for the dumps: a fused weight takes the place of its first member.
  const weightRank = new Map([...g.weights.keys()].map((k, i) => [k, i]));
  const replaced = new Map<Node, Node[]>();   // first node of a group -> its replacement; others -> []
  let nextId = nextActId(g);
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const name = fusedName(group.map((n) => n.name));
    const slots = ROW_WEIGHTS[group[0].op]!;
    const suffixes = slots.map((i) => {
      const w = group[0].inputs[i] as { name: string } | null | undefined;
      return w ? w.name.slice(w.name.lastIndexOf('.') + 1) : null;
    });
    const taken = (n: string) => g.weights.has(n) || [...g.acts.values()].some((a) => a.name === n) || g.nodes.some((x) => x.name === n);
    if (taken(name) || taken(`${name}.split`) || suffixes.some((sfx) => sfx !== null && taken(`${name}.${sfx}`))) continue;

    const sizes = group.map((n) => g.weights.get((n.inputs[1] as { name: string }).name)!.shape[0]);
    const total = sizes.reduce((a, b) => a + b, 0);
    const inputs: (Operand | null)[] = [...group[0].inputs];
    slots.forEach((slot, k) => {
      if (suffixes[k] === null) return;
      const parts = group.map((n) => g.weights.get((n.inputs[slot] as { name: string }).name)!);
      const fused = { name: `${name}.${suffixes[k]}`, dtype: parts[0].dtype, shape: [total, ...parts[0].shape.slice(1)], source: concat(...parts.map((w) => w.source)) };
      g.weights.set(fused.name, fused);
      weightRank.set(fused.name, weightRank.get(parts[0].name)! - 0.5);
      inputs[slot] = { kind: 'weight', name: fused.name };
    });
    const x = g.acts.get((group[0].inputs[0] as { id: number }).id)!;
    const id = nextId++;
    g.acts.set(id, { id, name, rows: x.rows, width: total });                       // [rows, sum of outs]
    const linear: Node = { op: group[0].op, name, inputs, outputs: [id], attrs: { ...group[0].attrs } };
    const split: Node = { op: 'split', name: `${name}.split`, inputs: [{ kind: 'act', id }], outputs: group.map((n) => n.outputs[0]), attrs: { sizes } };
    if (OPS.split.attrs.length !== 1) throw new Error('split attrs changed: update fuse_sibling_linears');
    replaced.set(group[0], [linear, split]);
    for (const n of group.slice(1)) replaced.set(n, []);
  }
  g.nodes = g.nodes.flatMap((n) => replaced.get(n) ?? [n]);
  g.weights = new Map([...g.weights].sort(([a], [b]) => (weightRank.get(a) ?? 0) - (weightRank.get(b) ?? 0)));
  removeUnusedValues(g);
  return g;
}

/** l0.q, l0.k, l0.v -> l0.qkv;  l0.gate, l0.up -> l0.gate_up (common dotted prefix + the rest joined). */
export function fusedName(names: string[]): string {
  const parts = names.map((n) => n.split('.'));
  let common = 0;
  while (parts.every((p) => common < p.length - 1 && p[common] === parts[0][common])) common++;
  const rest = parts.map((p) => p.slice(common).join('_'));
  const joined = rest.every((r) => r.length === 1) ? rest.join('') : rest.join('_');
  return [...parts[0].slice(0, common), joined].join('.');
}

export const fuseSiblingLinears: Pass = { name: 'fuse_sibling_linears', run };
