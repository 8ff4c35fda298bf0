// shard: the whole model's graph -> the graph of one rank of a tp x pp engine (docs/parallel.md).
//   rank = pp_rank * tp + tp_rank; tensor parallel first (shard-tensor.ts), then the rank's pipeline stage
//   (shard-pipeline.ts, stages balanced on the unsharded graph so every rank computes the same cut).
// Rank 0 keeps the logits (it samples); the other ranks' graphs end with their communication.
import { NO_LOGITS, type Graph, type RankMapping } from '../compiler/ir/graph.js';
import type { Pass } from './pass.js';
import { balanceStages, cutStage, layerBytes } from './shard-pipeline.js';
import { shardTensor } from './shard-tensor.js';

export interface ShardOptions { tp: number; pp: number; rank: number }

export function shardPass(o: ShardOptions): Pass {
  return { name: 'shard', run: (g) => shardGraph(g, o) };
}

export function shardGraph(input: Graph, { tp, pp, rank }: ShardOptions): Graph {
  const tpRank = rank % tp;
  const ppRank = Math.floor(rank / tp);
  const starts = balanceStages(layerBytes(input), pp);
  const attn = input.nodes.find((n) => n.op === 'attention');
  const table = input.nodes.find((n) => n.op === 'embedding');
  let g = input;
  let info = {
    numHeads: (attn?.attrs.num_heads as number) ?? 0, numKvHeads: (attn?.attrs.num_kv_heads as number) ?? 0,
    vocabStart: 0, vocabSize: table ? input.weights.get((table.inputs[0] as { name: string }).name)!.shape[0] : 0,
  };
  if (tp > 1) ({ g, info } = shardTensor(g, tp, tpRank));
  const mapping: RankMapping = {
    rank, world_size: tp * pp, tp, pp, tp_rank: tpRank, pp_rank: ppRank,
    first_layer: starts[ppRank], num_layers: starts[ppRank + 1] - starts[ppRank],
    num_heads: info.numHeads, num_kv_heads: info.numKvHeads, vocab_start: info.vocabStart, vocab_size: info.vocabSize,
  };
  if (pp > 1) g = cutStage(g, starts, ppRank, tp, tpRank);
  else if (rank !== 0) g = { ...g, outputs: { logits: NO_LOGITS } };
  return { ...g, mapping };
}
