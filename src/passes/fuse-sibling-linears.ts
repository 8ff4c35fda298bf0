// fuse_sibling_linears: linears that read the same activation become one wider linear and a split, so the input
// is read once and a decode step makes one GEMV instead of several.
//   %q = linear(%x, @l0.q.weight); %k = linear(%x, @l0.k.weight); %v = linear(%x, @l0.v.weight)
//   ->  %qkv = linear(%x, @l0.qkv.weight); %q, %k, %v = split(%qkv) {sizes=[q, k, v]}
// with l0.qkv.weight = concat(q, k, v) rows (done by the engine writer: weight sources compose). The same rule
// fuses gate/up (l0.gate_up). Safe cases only: same weight dtype, all with bias or all without, and weights no
// other node reads (a tied embedding is never folded into something else). The split keeps the original output
// values and names, so downstream nodes are untouched.
import { OPS } from '../compiler/ir/ops.generated.js';
import { cloneGraph, nextActId, removeUnusedValues, type Graph, type Node, type Operand } from '../compiler/ir/graph.js';
import { concat } from '../compiler/ir/weight-source.js';
import type { Pass } from './pass.js';

function run(input: Graph): Graph {
  const g = cloneGraph(input);
  const weightReaders = new Map<string, number>();
  for (const n of g.nodes) for (const x of n.inputs) if (x?.kind === 'weight') weightReaders.set(x.name, (weightReaders.get(x.name) ?? 0) + 1);

  // Group candidate linears by (input, dtype, bias or not), in node order.
  const groups = new Map<string, Node[]>();
  for (const n of g.nodes) {
    const [x, wt, b] = n.inputs;
    if (n.op !== 'linear' || x?.kind !== 'act' || wt?.kind !== 'weight') continue;
    if (weightReaders.get(wt.name) !== 1 || (b?.kind === 'weight' && weightReaders.get(b.name) !== 1)) continue;
    const key = `${x.id}|${g.weights.get(wt.name)!.dtype}|${b ? 'bias' : 'nobias'}`;
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }

  // Declaration order for the dumps: a fused weight takes the place of its first member.
  const weightRank = new Map([...g.weights.keys()].map((k, i) => [k, i]));
  const replaced = new Map<Node, Node[]>();   // first node of a group -> its replacement; others -> []
  let nextId = nextActId(g);
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const name = fusedName(group.map((n) => n.name));
    if (g.weights.has(`${name}.weight`) || [...g.acts.values()].some((a) => a.name === name) || g.nodes.some((n) => n.name === name || n.name === `${name}.split`)) continue;

    const weights = group.map((n) => g.weights.get((n.inputs[1] as { name: string }).name)!);
    const sizes = weights.map((w) => w.shape[0]);
    const total = sizes.reduce((a, b) => a + b, 0);
    const fusedW = { name: `${name}.weight`, dtype: weights[0].dtype, shape: [total, weights[0].shape[1]], source: concat(...weights.map((w) => w.source)) };
    g.weights.set(fusedW.name, fusedW);
    weightRank.set(fusedW.name, weightRank.get(weights[0].name)! - 0.5);
    const inputs: Operand[] = [group[0].inputs[0]!, { kind: 'weight', name: fusedW.name }];
    if (group[0].inputs[2]) {
      const biases = group.map((n) => g.weights.get((n.inputs[2] as { name: string }).name)!);
      const fusedB = { name: `${name}.bias`, dtype: biases[0].dtype, shape: [total], source: concat(...biases.map((b) => b.source)) };
      g.weights.set(fusedB.name, fusedB);
      weightRank.set(fusedB.name, weightRank.get(biases[0].name)! - 0.5);
      inputs.push({ kind: 'weight', name: fusedB.name });
    }
    const x = g.acts.get((group[0].inputs[0] as { id: number }).id)!;
    const id = nextId++;
    g.acts.set(id, { id, name, rows: x.rows, width: total });                       // [rows, sum of outs]
    const linear: Node = { op: 'linear', name, inputs, outputs: [id], attrs: {} };
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
