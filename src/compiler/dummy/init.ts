// What a dummy weight holds: realistic magnitudes per kind of weight, never zeros, so activations, softmax and
// sampling behave like a trained model's in speed and numerics (not in meaning):
//   embeddings, learned positions, LM head   N(0, 0.02)          (the HF initializer_range)
//   linear weights [out, in]                  N(0, 1/sqrt(in))    (activations keep unit scale through the layers)
//   norm gains                                1 + N(0, 0.02)      (N(0, 0.02) when the family stores gains as offsets
//                                                                 from 1, e.g. gemma's norm_weight_offset)
//   biases (linear and norm)                  N(0, 0.02)
// Each weight's values come from its own seed: the build's --dummy-seed mixed with the weight's name.
import { fail } from '../../errors.js';
import type { Weight } from '../ir/graph.js';
import type { DummyInit, QuantPart, QuantScheme, WeightSource } from '../ir/weight-source.js';
import type { ModelConfig } from '../models/config.js';

export const INIT_STD = 0.02;

/** The plan's `dummy` object of a weight (docs/engine-format.md). */
export type PlanDummy = { kind: 'normal' | 'ones'; seed: number; std: number } | { kind: 'const'; seed: number; value: number };

const TABLES = new Set(['embed.weight', 'pos_embed.weight', 'lm_head.weight']);

export function dummyInitFor(target: string, shape: readonly number[], cfg: ModelConfig): DummyInit {
  if (TABLES.has(target) || target.endsWith('.bias')) return { kind: 'normal', std: INIT_STD };
  if (/norm\.weight$/.test(target)) return cfg.norm_weight_offset !== 0 ? { kind: 'normal', std: INIT_STD } : { kind: 'ones', std: INIT_STD };
  if (shape.length === 2) return { kind: 'normal', std: Math.fround(1 / Math.sqrt(shape[1])) };
  return { kind: 'normal', std: INIT_STD };
}

/** FNV-1a over the name, mixed with the build seed: a 32-bit per-weight seed (exact in JSON). */
export function weightSeed(buildSeed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(buildSeed >>> 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The dummy settings behind a weight's source, or null for stored weights. Sources the passes built from dummy
 * parts (a fused q/k/v concat, a transpose) are one dummy weight with the first part's settings.
 */
export function dummyOf(name: string, src: WeightSource): PlanDummy | null {
  const base = dummyBase(src);
  if (!base) return null;
  const seed = weightSeed(base.seed, name);
  return base.init.kind === 'const' ? { kind: 'const', seed, value: base.init.value } : { kind: base.init.kind, seed, std: base.init.std };
}

function dummyBase(src: WeightSource): { init: DummyInit; seed: number } | null {
  switch (src.op) {
    case 'dummy': return { init: src.init, seed: src.seed };
    case 'transpose': case 'rows': return dummyBase(src.src);
    case 'concat': {
      const parts = src.srcs.map(dummyBase);
      if (parts.every((p) => p === null)) return null;
      if (parts.some((p) => p === null)) throw new Error('a weight concatenates dummy and stored parts');
      return parts[0];
    }
    case 'tensor': case 'const': return null;
    case 'quantize': {
      const base = dummyBase(src.src);
      return base ? { init: quantizedDummy(src.scheme, src.part, base.init), seed: base.seed } : null;
    }
    case 'packed': case 'scale_cols':
      if (dummyBase(src.src)) fail('UNSUPPORTED', 'pre-quantized or AWQ-scaled dummy weights are not supported', 'build the dummy engine without --calib');
      return null;
  }
}

/**
 * Dummy settings of a quantized part whose float weight would be N(0, std): codes N(0, CODE_STD) around the code
 * zero (the runtime rounds and clamps them into the code dtype), scales std / CODE_STD, u4 offsets -8 * scale, so
 * the dequantized weight has the float dummy's spread (docs/engine-format.md "Dummy weights").
 */
export const DUMMY_CODE_STD: Record<QuantScheme['kind'], number> = { int8: 32, int4: 3, fp8: 64 };

function quantizedDummy(scheme: QuantScheme, part: QuantPart, init: DummyInit): DummyInit {
  const std = init.kind === 'const' ? Math.abs(init.value) : init.std;
  const scale = Math.fround(std / DUMMY_CODE_STD[scheme.kind]);
  if (part === 'codes') return { kind: 'normal', std: DUMMY_CODE_STD[scheme.kind] };
  if (part === 'scales') return { kind: 'const', value: scale };
  return { kind: 'const', value: Math.fround(-8 * scale) };
}

export function isDummyWeight(w: Weight): boolean {
  return dummyBase(w.source) !== null;
}
