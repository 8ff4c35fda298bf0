// Self-attention of layer i: q/k/v projections (separate, or one fused [q | k | v] weight split into three),
// rope on q and k, paged causal attention (alibi, sliding window), output projection.
//   x [tokens, hidden] -> q [tokens, heads*head_dim], k, v [tokens, kv_heads*head_dim] -> out [tokens, hidden]
import type { Act } from '../ir/builder.js';
import type { Operand } from '../ir/graph.js';
import { optionalW, w, type LayerContext } from './context.js';
import { applyRope } from './positions.js';

export interface PositionWeights {
  invFreq: Operand | null;   // rope.inv_freq when the model uses rope
  alibi: Operand | null;     // alibi.slopes when it uses alibi
}

export function attention(ctx: LayerContext, layer: number, x: Act, pos: PositionWeights): Act {
  const { cfg, g } = ctx;
  const L = `l${layer}`;
  const qWidth = cfg.num_heads * cfg.head_dim;
  const kvWidth = cfg.num_kv_heads * cfg.head_dim;
  const hidden = cfg.hidden_size;

  let q: Act, k: Act, v: Act;
  const fused = optionalW(ctx, `${L}.qkv.weight`, [qWidth + 2 * kvWidth, hidden]);
  if (fused) {
    // Checkpoints with a fused projection (reordered to [q | k | v] rows by the weight map).
    const bias = cfg.qkv_bias ? w(ctx, `${L}.qkv.bias`, [qWidth + 2 * kvWidth]) : null;
    const qkv = g.node('linear', `${L}.qkv`, [x, fused, bias]);                           // [tokens, q+2kv]
    [q, k, v] = g.nodeN('split', `${L}.qkv.split`, [qkv], { sizes: [qWidth, kvWidth, kvWidth] }, [`${L}.q`, `${L}.k`, `${L}.v`]);
  } else {
    const proj = (p: string, width: number) =>
      g.node('linear', `${L}.${p}`, [x, w(ctx, `${L}.${p}.weight`, [width, hidden]), cfg.qkv_bias ? w(ctx, `${L}.${p}.bias`, [width]) : null]);
    q = proj('q', qWidth);                                                                // [tokens, heads*head_dim]
    k = proj('k', kvWidth);                                                               // [tokens, kv_heads*head_dim]
    v = proj('v', kvWidth);
  }
  if (pos.invFreq) {
    q = applyRope(ctx, `${L}.q_rope`, q, cfg.num_heads, pos.invFreq);
    k = applyRope(ctx, `${L}.k_rope`, k, cfg.num_kv_heads, pos.invFreq);
  }
  const att = g.node('attention', `${L}.attn`, [q, k, v, pos.alibi], {                   // [tokens, heads*head_dim]
    layer, num_heads: cfg.num_heads, num_kv_heads: cfg.num_kv_heads, head_dim: cfg.head_dim,
    scale: cfg.attention_scale, sliding_window: cfg.sliding_window,
  });
  const o = w(ctx, `${L}.o.weight`, [hidden, qWidth]);
  return g.node('linear', `${L}.attn_out`, [att, o, cfg.o_bias ? w(ctx, `${L}.o.bias`, [hidden]) : null]); // [tokens, hidden]
}
