// What every layer builder gets: the graph under construction, the normalised config, the resolved weight map
// and the dtype chosen for weights. w() declares a mapped weight in the graph after checking that its shape is
// the one the config implies (a mismatch is a BAD_CHECKPOINT naming the tensor).
import type { GraphBuilder } from '../ir/builder.js';
import type { Operand, WeightDType } from '../ir/graph.js';
import type { ModelConfig } from '../models/config.js';
import type { WeightTable } from '../models/weight-map.js';

export interface LayerContext {
  g: GraphBuilder;
  cfg: ModelConfig;
  weights: WeightTable;
  dtype: WeightDType;
}

export function w(ctx: LayerContext, target: string, shape: number[]): Operand {
  const m = ctx.weights.get(target, shape);
  return ctx.g.weight({ name: target, dtype: ctx.dtype, shape: m.shape, source: m.source });
}

/** The weight if the map has it (optional biases follow the config flags, so this is for variants like fused qkv). */
export function optionalW(ctx: LayerContext, target: string, shape: number[]): Operand | null {
  return ctx.weights.has(target) ? w(ctx, target, shape) : null;
}
