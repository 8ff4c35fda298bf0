// The check across ranks that a single graph's verifier cannot make: the ranks of a sharded engine must meet in
// every collective and every send must have its receive, or the run hangs. Thrown as VerifyError (a compiler bug).
//   mapping        every rank has one, the same world / tp / pp, rank = pp_rank * tp + tp_rank
//   collectives    the ranks of a tensor-parallel group run the same all_reduce / all_gather sequence, with the
//                  same rows and widths (all_gather: the same sizes, each rank giving its own entry)
//   send / recv    for every ordered pair of ranks, the sends of one and the receives of the other match one to
//                  one, in order, with the same rows and width
//   layers         each stage's attention layers are numbered 0..num_layers-1 (its KV cache layers)
import type { Graph, Node } from '../compiler/ir/graph.js';
import { VerifyError } from '../compiler/ir/verify.js';

export function checkRanksAgree(ranks: Graph[]): void {
  const bad = (msg: string): never => { throw new VerifyError(`IR verify (ranks agree): ${msg}`); };
  const m0 = ranks[0].mapping ?? bad('rank 0 has no mapping');
  if (ranks.length !== m0.world_size) bad(`${ranks.length} graphs for a world of ${m0.world_size}`);
  ranks.forEach((g, r) => {
    const m = g.mapping ?? bad(`rank ${r} has no mapping`);
    if (m.rank !== r || m.world_size !== m0.world_size || m.tp !== m0.tp || m.pp !== m0.pp || m.rank !== m.pp_rank * m.tp + m.tp_rank) {
      bad(`rank ${r}'s mapping ${JSON.stringify(m)} does not fit rank 0's`);
    }
    const layers = g.nodes.filter((n) => n.op === 'attention').map((n) => n.attrs.layer as number).sort((a, b) => a - b);
    if (layers.length !== m.num_layers || layers.some((l, i) => l !== i)) bad(`rank ${r} has attention layers [${layers}], expected 0..${m.num_layers - 1}`);
  });

  const shape = (g: Graph, n: Node) => {
    const a = g.acts.get(n.outputs[0] ?? (n.inputs[0] as { id: number }).id)!;
    return `${a.rows},${n.op === 'all_gather' ? JSON.stringify(n.attrs.sizes) : a.width}`;
  };
  // Collectives, per tensor-parallel group.
  for (let p = 0; p < m0.pp; p++) {
    const group = ranks.filter((g) => g.mapping!.pp_rank === p);
    const seqs = group.map((g) => g.nodes.filter((n) => n.op === 'all_reduce' || n.op === 'all_gather').map((n) => `${n.op}(${shape(g, n)})`));
    seqs.forEach((s, k) => {
      const first = s.findIndex((x, i) => x !== seqs[0][i]);
      if (s.length !== seqs[0].length || first >= 0) {
        const i = first >= 0 ? first : Math.min(s.length, seqs[0].length);
        bad(`rank ${group[k].mapping!.rank} and rank ${group[0].mapping!.rank} disagree at collective #${i}: ${s[i] ?? 'none'} vs ${seqs[0][i] ?? 'none'}`);
      }
    });
  }
  // Point to point, per ordered pair.
  const p2p = (g: Graph, op: 'send' | 'recv', peer: number) =>
    g.nodes.filter((n) => n.op === op && n.attrs.peer === peer).map((n) => shape(g, n));
  for (let a = 0; a < ranks.length; a++) {
    for (let b = 0; b < ranks.length; b++) {
      if (a === b) continue;
      const sends = p2p(ranks[a], 'send', b);
      const recvs = p2p(ranks[b], 'recv', a);
      if (sends.join(' ') !== recvs.join(' ')) bad(`rank ${a} sends [${sends.join('; ')}] to rank ${b}, which receives [${recvs.join('; ')}] from it`);
    }
  }
}
