// A whole decoder-only model from its ModelConfig: embedding, N blocks, final norm, LM head. Family files call
// buildDecoder() after mapping their weights; the block structure follows the config:
//   sequential: x = x + attn(attn_norm(x));  x = x + mlp(mlp_norm(x))
//   parallel:   x = x + (attn(attn_norm(x)) + mlp(n(x)))   n = attn_norm (one norm) or mlp_norm (two norms)
//   post-norm:  x = attn_norm(x + attn(x));  x = mlp_norm(x + mlp(x))       (opt do_layer_norm_before=false)
// Every intermediate is named per layer (l3.attn_norm, l3.q, ..., l3.out) for dumps and diffs.
import type { Act } from '../ir/builder.js';
import type { Graph } from '../ir/graph.js';
import { attention, type PositionWeights } from './attention.js';
import type { LayerContext } from './context.js';
import { embed } from './embedding.js';
import { lmHead } from './lm-head.js';
import { mlp } from './mlp.js';
import { norm } from './norm.js';
import { alibiWeight, ropeFrequencies } from './positions.js';

export function buildDecoder(ctx: LayerContext): Graph {
  const { cfg, g } = ctx;
  let x = embed(ctx);                                                                     // [tokens, hidden]
  const pos: PositionWeights = {
    invFreq: cfg.position === 'rope' ? ropeFrequencies(ctx) : null,
    alibi: cfg.position === 'alibi' ? alibiWeight(ctx) : null,
  };
  for (let i = 0; i < cfg.num_layers; i++) x = block(ctx, i, x, pos);
  if (cfg.final_norm) x = norm(ctx, 'final_norm', 'final_norm', x);
  const logits = lmHead(ctx, x);                                                          // [logit_rows, vocab]
  return g.finish(logits);
}

function block(ctx: LayerContext, i: number, x: Act, pos: PositionWeights): Act {
  const { cfg, g } = ctx;
  const L = `l${i}`;
  if (cfg.norm_position === 'post') return postNormBlock(ctx, i, x, pos);
  const h = norm(ctx, `${L}.attn_norm`, `${L}.attn_norm`, x);
  if (!cfg.parallel_residual) {
    const a = attention(ctx, i, h, pos);
    const x1 = g.node('add', `${L}.attn_residual`, [x, a]);
    const m = mlp(ctx, i, norm(ctx, `${L}.mlp_norm`, `${L}.mlp_norm`, x1));
    return g.node('add', `${L}.out`, [x1, m]);
  }
  const a = attention(ctx, i, h, pos);
  const m = mlp(ctx, i, cfg.parallel_norms === 2 ? norm(ctx, `${L}.mlp_norm`, `${L}.mlp_norm`, x) : h);
  const both = g.node('add', `${L}.attn_mlp`, [a, m]);
  return g.node('add', `${L}.out`, [x, both]);
}

/** Post-norm (original transformer order): the norm follows each residual add. Sequential only. */
function postNormBlock(ctx: LayerContext, i: number, x: Act, pos: PositionWeights): Act {
  const { cfg, g } = ctx;
  const L = `l${i}`;
  if (cfg.parallel_residual) throw new Error('post-norm blocks are sequential (the family must reject parallel_residual)');
  const a = attention(ctx, i, x, pos);
  const x1 = norm(ctx, `${L}.attn_norm`, `${L}.attn_norm`, g.node('add', `${L}.attn_residual`, [x, a]));
  const m = mlp(ctx, i, x1);
  return norm(ctx, `${L}.mlp_norm`, `${L}.out`, g.node('add', `${L}.mlp_residual`, [x1, m]));
}
