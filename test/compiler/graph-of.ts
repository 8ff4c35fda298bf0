// Builds the input graph (before passes) of a checkpoint directory, the way build.ts does.
import { openCheckpoint } from '../../src/compiler/hf/checkpoint.js';
import { GraphBuilder } from '../../src/compiler/ir/builder.js';
import type { Graph, WeightDType } from '../../src/compiler/ir/graph.js';
import { buildDecoder } from '../../src/compiler/layers/decoder.js';
import { loadModel, resolveWeights } from '../../src/compiler/models/load.js';
import type { ModelConfig } from '../../src/compiler/models/config.js';

export function configOf(dir: string): ModelConfig {
  return loadModel(openCheckpoint(dir)).cfg;
}

export function graphOf(dir: string, dtype: WeightDType = 'f32'): Graph {
  const model = loadModel(openCheckpoint(dir));
  const weights = resolveWeights(model);
  return (model.family.build ?? buildDecoder)({ g: new GraphBuilder(), cfg: model.cfg, weights, dtype });
}
