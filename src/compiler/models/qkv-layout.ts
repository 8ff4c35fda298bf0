// Fused qkv projections: checkpoints lay out the rows of one fused weight (and its bias) in different orders; the
// attention builder wants [q (heads*head_dim) | k (kv_heads*head_dim) | v (kv_heads*head_dim)] (target l{i}.qkv).
// These build that order at engine-write time with rows()/concat(), so the graph never permutes anything:
//   blocks           [q | k | v] already (mpt Wqkv, gpt2 c_attn after the Conv1D transpose, falcon-7b multi_query,
//                    gpt_bigcode multi_query): the tensor as it is
//   grouped per kv   view [kv_heads, heads/kv_heads + 2, head_dim]: group g = its q heads, then k_g, then v_g
//                    (falcon new_decoder_architecture)
//   per head         view [heads, 3, head_dim]: (q_h, k_h, v_h) for each head (gpt_neox, bloom, falcon alibi /
//                    old MHA, gpt_bigcode without multi_query): the grouped layout with kv_heads = heads
import { concat, rows, type WeightSource } from '../ir/weight-source.js';

/** [q | k | v] rows of a fused tensor grouped per kv head; pass kvHeads = heads for the per-head layout. */
export function groupedQkv(src: WeightSource, heads: number, kvHeads: number, headDim: number): WeightSource {
  const perGroup = heads / kvHeads;            // q heads sharing one kv head
  const slot = (g: number, s: number): [number, number] => [(g * (perGroup + 2) + s) * headDim, headDim];
  const ranges: [number, number][] = [];
  for (let g = 0; g < kvHeads; g++) ranges.push([slot(g, 0)[0], perGroup * headDim]);   // q heads of group g
  for (let g = 0; g < kvHeads; g++) ranges.push(slot(g, perGroup));                        // k_g
  for (let g = 0; g < kvHeads; g++) ranges.push(slot(g, perGroup + 1));                    // v_g
  return rowRanges(src, ranges, (heads + 2 * kvHeads) * headDim);
}

/**
 * concat(rows(src, start, count) ...) with neighbouring ranges merged: a layout that is already [q | k | v]
 * (one kv head, one group) comes back as `src` itself, and a per-head layout as few slices as possible.
 */
function rowRanges(src: WeightSource, ranges: [number, number][], total: number): WeightSource {
  const merged: [number, number][] = [];
  for (const [start, count] of ranges) {
    const last = merged[merged.length - 1];
    if (last && last[0] + last[1] === start) last[1] += count;
    else merged.push([start, count]);
  }
  if (merged.length === 1 && merged[0][0] === 0 && merged[0][1] === total) return src;
  return concat(...merged.map(([start, count]) => rows(src, start, count)));
}
