// From an opened checkpoint to what the graph builders need: the family (by architecture), the checkpoint's tensor
// names as save_pretrained writes them (base prefix added back when missing), the normalised ModelConfig and the
// resolved weight map. build.ts and the tests go through here, so they see the same names.
import type { Checkpoint } from '../hf/checkpoint.js';
import type { TensorInfo } from '../hf/safetensors.js';
import type { ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import { HfConfig } from './hf-config.js';
import { familyFor } from './index.js';
import { resolveWeightMap, withBasePrefix, type WeightTable } from './weight-map.js';

export interface LoadedModel {
  family: ModelFamily;
  architecture: string;
  cfg: ModelConfig;
  /** The checkpoint's tensors under their canonical (prefixed) names; weight sources refer to these. */
  tensors: Map<string, TensorInfo>;
}

/** Family, canonical tensor names and ModelConfig (weights are resolved separately: see resolveWeights). */
export function loadModel(ckpt: Pick<Checkpoint, 'config' | 'tensors'>): LoadedModel {
  const { family, architecture } = familyFor(ckpt.config);
  const tensors = withBasePrefix(ckpt.tensors, family.basePrefix, family.headPrefixes ?? ['lm_head.']);
  const cfg = family.normalize(new HfConfig(ckpt.config, architecture), new Set(tensors.keys()));
  return { family, architecture, cfg, tensors };
}

export function resolveWeights(m: LoadedModel): WeightTable {
  return resolveWeightMap(m.family.weightMap(m.cfg, new Set(m.tensors.keys())), m.tensors, m.architecture);
}
