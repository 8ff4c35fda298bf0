// Token embedding ([tokens, hidden] = embed.weight rows, times embedding_scale), then what some families add
// before layer 0: bloom's embedding LayerNorm, learned absolute positions (gpt2, opt with offset 2, ...).
import type { Act } from '../ir/builder.js';
import { w, type LayerContext } from './context.js';
import { norm } from './norm.js';

export function embed(ctx: LayerContext): Act {
  const { cfg, g } = ctx;
  const table = w(ctx, 'embed.weight', [cfg.vocab_size, cfg.hidden_size]);
  // gemma: HF multiplies by sqrt(hidden) rounded to the activation dtype; f32 here, the family sets the value.
  let x = g.node('embedding', 'embed', [table], { scale: cfg.embedding_scale });         // [tokens, hidden]
  if (cfg.embedding_norm) x = norm(ctx, 'embed_norm', 'embed_norm', x);
  if (cfg.position === 'learned') {
    const rows = (cfg.max_position_embeddings ?? 0) + cfg.learned_position_offset;
    const pos = w(ctx, 'pos_embed.weight', [rows, cfg.hidden_size]);
    x = g.node('pos_embedding', 'pos_embed', [x, pos], { offset: cfg.learned_position_offset });
  }
  return x;
}
