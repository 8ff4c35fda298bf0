// Token embedding ([tokens, embedding_dim] = embed.weight rows, times embedding_scale), then what some families
// add before layer 0, in HF's order:
//   proj_in      opt-350m: word_embed_proj_dim -> hidden (a linear without bias)
//   embed_norm   bloom's word_embeddings_layernorm
//   pos_embed    learned absolute positions (gpt2, gpt_bigcode; opt with offset 2)
import type { Act } from '../ir/builder.js';
import { w, type LayerContext } from './context.js';
import { norm } from './norm.js';

export function embed(ctx: LayerContext): Act {
  const { cfg, g } = ctx;
  const table = w(ctx, 'embed.weight', [cfg.vocab_size, cfg.embedding_dim]);
  // gemma: HF multiplies by sqrt(hidden) rounded to the activation dtype; f32 here, the family sets the value.
  let x = g.node('embedding', 'embed', [table], { scale: cfg.embedding_scale });         // [tokens, embedding_dim]
  if (cfg.embedding_dim !== cfg.hidden_size) {
    x = g.node('linear', 'proj_in', [x, w(ctx, 'proj_in.weight', [cfg.hidden_size, cfg.embedding_dim]), null]); // [tokens, hidden]
  }
  if (cfg.embedding_norm) x = norm(ctx, 'embed_norm', 'embed_norm', x);
  if (cfg.position === 'learned') {
    const rows = (cfg.max_position_embeddings ?? 0) + cfg.learned_position_offset;
    const pos = w(ctx, 'pos_embed.weight', [rows, cfg.hidden_size]);
    x = g.node('pos_embedding', 'pos_embed', [x, pos], { offset: cfg.learned_position_offset });
  }
  return x;
}
