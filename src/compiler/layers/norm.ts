// Norms: rms_norm (llama family, gemma with weight offset 1) or layer_norm (with or without bias), chosen by the
// config. `prefix` names the weights: <prefix>.weight [hidden], <prefix>.bias [hidden].
import type { Act } from '../ir/builder.js';
import { w, type LayerContext } from './context.js';

export function norm(ctx: LayerContext, prefix: string, name: string, x: Act): Act {
  const { cfg, g } = ctx;
  const weight = w(ctx, `${prefix}.weight`, [x.width]);
  if (cfg.norm_kind === 'rms') {
    return g.node('rms_norm', name, [x, weight], { eps: cfg.norm_eps, weight_offset: cfg.norm_weight_offset });
  }
  const bias = cfg.norm_bias ? w(ctx, `${prefix}.bias`, [x.width]) : null;
  return g.node('layer_norm', name, [x, weight, bias], { eps: cfg.norm_eps });
}
