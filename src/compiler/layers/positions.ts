// Position information, computed at build time and stored as f32 weights:
//   rope.inv_freq [rotary_dim/2]  rotary frequencies, rope scaling included
//   alibi.slopes  [num_heads]     ALiBi slopes (scaled by the attention scale for falcon)
// Both reproduce HF's float32 arithmetic step by step (Math.fround wherever torch rounds to float32), so the
// engine's angles and biases are bit-identical to what transformers computes.
import { fail } from '../../errors.js';
import { constant } from '../ir/weight-source.js';
import type { Act } from '../ir/builder.js';
import type { Operand } from '../ir/graph.js';
import type { RopeScaling } from '../models/config.js';
import type { LayerContext } from './context.js';

const fr = Math.fround;

/**
 * HF `_compute_default_rope_parameters`: inv_freq = 1 / base^(arange(0, r, 2).float() / r), all in float32.
 * (f32 division and pow computed in double then rounded once are the correctly rounded f32 results; torch's
 * powf agrees on every frequency in the golden set.)
 */
export function ropeInvFreq(theta: number, rotaryDim: number, scaling: RopeScaling | null): number[] {
  const inv: number[] = [];
  for (let i = 0; i < rotaryDim; i += 2) {
    const exponent = fr(i / rotaryDim);
    inv.push(fr(1 / fr(Math.pow(fr(theta), exponent))));
  }
  if (!scaling) return inv;
  switch (scaling.type) {
    case 'linear':
      return inv.map((f) => fr(f / fr(scaling.factor)));    // inv_freq /= factor
    case 'llama3':
      return inv.map((f) => llama3Scale(f, scaling));
  }
}

/**
 * HF `_compute_llama3_parameters`, per frequency (a 0-d float32 tensor in HF; Python floats are rounded to f32
 * when they meet it, and `scalar / tensor` is computed as tensor.reciprocal() * scalar):
 *   wavelen = 2*pi / freq
 *   wavelen < L/high  -> freq;  wavelen > L/low -> freq / factor
 *   else smooth = (L / wavelen - low) / (high - low);  (1 - smooth) * freq / factor + smooth * freq
 */
function llama3Scale(freq: number, s: Extract<RopeScaling, { type: 'llama3' }>): number {
  const L = s.original_max_position_embeddings;
  const lowWavelen = L / s.low_freq_factor;    // Python floats
  const highWavelen = L / s.high_freq_factor;
  const wavelen = fr(fr(1 / freq) * fr(2 * Math.PI));
  if (wavelen < fr(highWavelen)) return freq;
  if (wavelen > fr(lowWavelen)) return fr(freq / fr(s.factor));
  const smooth = fr(fr(fr(fr(1 / wavelen) * fr(L)) - fr(s.low_freq_factor)) / fr(s.high_freq_factor - s.low_freq_factor));
  return fr(fr(fr(fr(1 - smooth) * freq) / fr(s.factor)) + fr(smooth * freq));
}

/**
 * ALiBi slopes for n heads.
 *   bloom (also falcon): p = 2^floor(log2 n); slopes 2^(-8/p)^k for k = 1..p, then 2^(-4/p)^(2k-1) for the rest
 *     (HF build_alibi_tensor: torch.pow of a float32 base).
 *   mpt: p = 2^ceil(log2 n); slopes 1/2^(k * bias_max/p) for k = 1..p, then the odd-indexed ones first, cut to n.
 */
export function alibiSlopes(numHeads: number, style: 'bloom' | 'mpt', biasMax = 8): number[] {
  if (style === 'mpt') {
    const p = 2 ** Math.ceil(Math.log2(numHeads));
    const all: number[] = [];
    for (let k = 1; k <= p; k++) all.push(fr(1 / fr(Math.pow(2, fr(fr(k) * fr(biasMax / p))))));
    if (p === numHeads) return all;
    const odd = all.filter((_, i) => i % 2 === 1);
    const even = all.filter((_, i) => i % 2 === 0);
    return [...odd, ...even].slice(0, numHeads);
  }
  const p = 2 ** Math.floor(Math.log2(numHeads));
  const base = fr(2 ** -(2 ** -(Math.log2(p) - 3)));
  const slopes: number[] = [];
  for (let k = 1; k <= p; k++) slopes.push(fr(Math.pow(base, k)));
  if (p !== numHeads) {
    const extraBase = fr(2 ** -(2 ** -(Math.log2(2 * p) - 3)));
    const remaining = Math.min(p, numHeads - p);
    for (let k = 1; k < 1 + 2 * remaining; k += 2) slopes.push(fr(Math.pow(extraBase, k)));
  }
  return slopes;
}

/** The shared rope.inv_freq weight (declared once, read by every layer's rope nodes). */
export function ropeFrequencies(ctx: LayerContext): Operand {
  const { cfg } = ctx;
  if (cfg.rotary_dim <= 0 || cfg.rotary_dim > cfg.head_dim || cfg.rotary_dim % 2 !== 0) {
    fail('UNSUPPORTED', `unsupported rotary dimension ${cfg.rotary_dim} (head_dim ${cfg.head_dim}): it must be even and at most head_dim`);
  }
  const inv = ropeInvFreq(cfg.rope_theta, cfg.rotary_dim, cfg.rope_scaling);
  return ctx.g.constWeight('rope.inv_freq', 'f32', [inv.length], constant(inv));
}

export function alibiWeight(ctx: LayerContext): Operand {
  const { cfg } = ctx;
  let slopes = alibiSlopes(cfg.num_heads, cfg.alibi_style, cfg.alibi_bias_max);
  // falcon adds slope * j before multiplying by the scale: fold the scale into the slopes.
  if (cfg.alibi_scaled) slopes = slopes.map((s) => fr(s * cfg.attention_scale));
  return ctx.g.constWeight('alibi.slopes', 'f32', [slopes.length], constant(slopes));
}

/** Rotates q or k ([tokens, heads*head_dim]) in place of the position. */
export function applyRope(ctx: LayerContext, name: string, x: Act, numHeads: number, invFreq: Operand): Act {
  const { cfg } = ctx;
  return ctx.g.node('rope', name, [x, invFreq], {
    num_heads: numHeads, head_dim: cfg.head_dim, rotary_dim: cfg.rotary_dim, style: cfg.rope_style,
  });
}
