// LM head: keep only the rows whose logits the step wants, then project to the vocabulary.
//   x [tokens, hidden] -> [logit_rows, hidden] (-> proj_out [logit_rows, embedding_dim]) -> logits [logit_rows, vocab]
// Tied models reuse embed.weight [vocab, embedding_dim] (already in the [out, in] layout linear wants). proj_out
// (opt-350m) is a per-row linear, so it runs after select_rows, on the rows that need it.
import type { Act } from '../ir/builder.js';
import { w, type LayerContext } from './context.js';

export function lmHead(ctx: LayerContext, x: Act): Act {
  const { cfg, g } = ctx;
  let rows = g.node('select_rows', 'logit_rows', [x]);                                    // [logit_rows, hidden]
  if (cfg.embedding_dim !== cfg.hidden_size) {
    rows = g.node('linear', 'proj_out', [rows, w(ctx, 'proj_out.weight', [cfg.embedding_dim, cfg.hidden_size]), null]); // [logit_rows, embedding_dim]
  }
  const shape = [cfg.vocab_size, cfg.embedding_dim];
  const weight = cfg.tie_word_embeddings ? w(ctx, 'embed.weight', shape) : w(ctx, 'lm_head.weight', shape);
  const bias = cfg.lm_head_bias ? w(ctx, 'lm_head.bias', [cfg.vocab_size]) : null;
  return g.node('linear', 'logits', [rows, weight, bias]);                                // [logit_rows, vocab]
}
