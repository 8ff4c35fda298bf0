// Builds the input graph (before passes) of a checkpoint directory, the way build.ts does.
import { openCheckpoint } from '../../src/compiler/hf/checkpoint.js';
import { GraphBuilder } from '../../src/compiler/ir/builder.js';
import type { Graph, WeightDType } from '../../src/compiler/ir/graph.js';
import { buildDecoder } from '../../src/compiler/layers/decoder.js';
import { HfConfig } from '../../src/compiler/models/hf-config.js';
import { familyFor } from '../../src/compiler/models/index.js';
import { resolveWeightMap } from '../../src/compiler/models/weight-map.js';
import type { ModelConfig } from '../../src/compiler/models/config.js';

export function configOf(dir: string): ModelConfig {
  const ckpt = openCheckpoint(dir);
  const { family, architecture } = familyFor(ckpt.config);
  return family.normalize(new HfConfig(ckpt.config, architecture), new Set(ckpt.tensors.keys()));
}

export function graphOf(dir: string, dtype: WeightDType = 'f32'): Graph {
  const ckpt = openCheckpoint(dir);
  const { family, architecture } = familyFor(ckpt.config);
  const names = new Set(ckpt.tensors.keys());
  const cfg = family.normalize(new HfConfig(ckpt.config, architecture), names);
  const weights = resolveWeightMap(family.weightMap(cfg, names), ckpt.tensors, architecture);
  return (family.build ?? buildDecoder)({ g: new GraphBuilder(), cfg, weights, dtype });
}
