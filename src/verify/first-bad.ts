// The first value past the tolerance and what produced it (diagnose.ts), on one rank or many. On a sharded engine
// the weights the first bad node reads are compared with their part of the reference's: a column-parallel linear
// holds the rows of the columns its value has; and when the first bad value is an all_reduce output (the same on
// every rank of its tensor-parallel group), the row-parallel linears whose partial sums it joins are checked on
// each rank of the group (their input columns of the reference's weight; a vocab-parallel embedding: its rows of the
// reference's table), so that a rank with a wrong shard is the one named.
import { ENGINE_FILE, rankFile, type Plan, type PlanNode } from '../compiler/engine/format.js';
import type { EnginePlan } from '../compiler/engine/reader.js';
import { WeightValues } from '../compiler/engine/weight-values.js';
import type { ValueReport } from './compare.js';
import { checkWeights, diagnose, type Diagnosis, type WeightCheck, type WeightSlice } from './diagnose.js';
import type { RankShards } from './value-map.js';

export type FirstBad = (ValueReport & { part: string | null; diagnosis: Diagnosis | null }) | null;

export interface EngineRanks {
  dir: string;
  plans: EnginePlan[];                       // rank order
  shards: (RankShards | undefined)[];
  tp: number;
}

export function firstBad(compared: ValueReport[], tol: number, eng: EngineRanks, ref: { plan: Plan; dir: string; dataOffset: number } | null,
  provenance: Record<string, string | string[]>, backend: string): FirstBad {
  let bad = compared.find((v) => !v.ok);
  if (!bad) return null;
  const ranks = eng.plans.length;
  const check = (rank: number, node: PlanNode, slice: WeightSlice): WeightCheck[] => {
    if (!ref) return [];
    const p = eng.plans[rank];
    const ew = new WeightValues(eng.dir, p.header.dataOffset, ranks > 1 ? rankFile(rank) : ENGINE_FILE);
    const rw = new WeightValues(ref.dir, ref.dataOffset);
    try {
      return checkWeights(p.plan, ref.plan, node, ew, rw, slice);
    } finally {
      ew.close();
      rw.close();
    }
  };
  let weights: WeightCheck[] = [];
  let via: { node: string; op: string; rank: number } | null = null;
  if (ref && ranks > 1 && bad.op === 'all_reduce') {
    const group = Math.floor(bad.rank / eng.tp);
    const same = compared.filter((v) => v.value === bad!.value && Math.floor(v.rank / eng.tp) === group);
    for (const v of same) {
      const plan = eng.plans[v.rank].plan;
      const reduce = plan.nodes.find((n) => n.name === v.node)!;
      for (const lin of partialProducers(plan, reduce.inputs[0])) {
        const w = check(v.rank, lin, partialSlice(plan, lin, eng.shards[v.rank]));
        if (w.some((c) => !c.ok)) {
          bad = v;
          weights = w;
          via = { node: lin.name, op: lin.op, rank: v.rank };
          break;
        }
      }
      if (via) break;
    }
  }
  const b = bad;
  const node = eng.plans[b.rank].plan.nodes.find((n) => n.name === b.node)!;
  if (!via) {
    // A column-parallel linear holds the rows of the reference weights that its value's columns are.
    const rows = node.op !== 'linear' && node.op !== 'linear_rope' ? [] : b.parts ? b.parts.map((p) => p.ref_cols) : [b.ref_cols];
    weights = check(b.rank, node, { rows });
  }
  const part = b.parts ? b.parts.find((p) => p.rel_err > tol)?.ref ?? null : null;
  const diagnosis = diagnose(node, provenance, backend, weights);
  if (via) diagnosis.cause = `it sums the partial sums of ${via.node} (${via.op === 'embedding_shard' ? 'vocab' : 'row'}-parallel) on rank ${via.rank}, and there ${diagnosis.cause.replace(/^its weight/, 'that node\'s weight')}`;
  return { ...b, part, diagnosis };
}

/** The part of the reference weights a partial-sum producer holds: a row-parallel linear, the input columns its rank
 * holds; a vocab-parallel embedding, its rows [vocab_start, vocab_start + rows) of the table. */
function partialSlice(plan: Plan, node: PlanNode, shards: RankShards | undefined): WeightSlice {
  if (node.op === 'embedding_shard') {
    const table = plan.values[node.inputs[0]];
    return { rows: [[[node.attrs.vocab_start as number, table.kind === 'weight' ? table.shape[0] : 0]]] };
  }
  const input = plan.values[node.inputs[0]]?.name;
  const cols = input !== undefined ? shards?.columns[input] : undefined;
  return cols ? { cols } : {};
}

/** The row-parallel linears and vocab-parallel embeddings whose partial sums value `id` is (through adds of partial sums). */
function partialProducers(plan: Plan, id: number): PlanNode[] {
  const p = plan.nodes.find((n) => n.outputs.includes(id));
  if (!p) return [];
  if (p.op === 'add') return p.inputs.flatMap((i) => (i >= 0 ? partialProducers(plan, i) : []));
  return p.op === 'linear' || p.op === 'embedding_shard' ? [p] : [];
}
