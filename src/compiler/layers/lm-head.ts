// LM head: keep only the rows whose logits the step wants, then project to the vocabulary.
//   x [tokens, hidden] -> [logit_rows, hidden] -> logits [logit_rows, vocab]
// Tied models reuse embed.weight [vocab, hidden] (already in the [out, in] layout linear wants).
import type { Act } from '../ir/builder.js';
import { w, type LayerContext } from './context.js';

export function lmHead(ctx: LayerContext, x: Act): Act {
  const { cfg, g } = ctx;
  const rows = g.node('select_rows', 'logit_rows', [x]);                                  // [logit_rows, hidden]
  const shape = [cfg.vocab_size, cfg.hidden_size];
  const weight = cfg.tie_word_embeddings ? w(ctx, 'embed.weight', shape) : w(ctx, 'lm_head.weight', shape);
  const bias = cfg.lm_head_bias ? w(ctx, 'lm_head.bias', [cfg.vocab_size]) : null;
  return g.node('linear', 'logits', [rows, weight, bias]);                                // [logit_rows, vocab]
}
