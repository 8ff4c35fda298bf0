// The MLP of layer i, x [tokens, hidden] -> [tokens, hidden]:
//   gated (llama family, gemma): down(act(gate(x)) * up(x))   emitted as activation + mul; the fuse pass makes
//                                                              them one gated_activation
//   plain (the rest):            down(act(up(x)))
import type { Act } from '../ir/builder.js';
import { w, type LayerContext } from './context.js';

export function mlp(ctx: LayerContext, layer: number, x: Act): Act {
  const { cfg, g } = ctx;
  const L = `l${layer}`;
  const [hidden, inter] = [cfg.hidden_size, cfg.intermediate_size];
  const proj = (p: string, input: Act, outW: number, inW: number, name = `${L}.${p}`) =>
    g.node('linear', name, [input, w(ctx, `${L}.${p}.weight`, [outW, inW]), cfg.mlp_bias ? w(ctx, `${L}.${p}.bias`, [outW]) : null]);

  let h: Act;
  if (cfg.mlp_gated) {
    const gate = proj('gate', x, inter, hidden);                                          // [tokens, inter]
    const up = proj('up', x, inter, hidden);                                              // [tokens, inter]
    const act = g.node('activation', `${L}.gate_act`, [gate], { kind: cfg.activation });
    h = g.node('mul', `${L}.mlp_act`, [act, up]);                                         // [tokens, inter]
  } else {
    const up = proj('up', x, inter, hidden);
    h = g.node('activation', `${L}.mlp_act`, [up], { kind: cfg.activation });
  }
  return proj('down', h, hidden, inter, `${L}.mlp_out`);                                                // [tokens, hidden]
}
