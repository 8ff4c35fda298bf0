// From an opened checkpoint to what the graph builders need: the family (by architecture), the checkpoint's tensor
// names as save_pretrained writes them (base prefix added back when missing), the normalised ModelConfig and the
// resolved weight map. build.ts and the tests go through here, so they see the same names.
import { fail } from '../../errors.js';
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
  checkLayerCount(cfg.num_layers, tensors.size);
  return { family, architecture, cfg, tensors };
}

/** More layers than any model has, or than the checkpoint has tensors for (each layer has weights of its own). */
export const MAX_LAYERS = 4096;

// The weight map and the graph have a loop per layer: without this bound a config.json claiming 2^32 layers
// (found by `npm run fuzz -- --target hf-config`) keeps the build busy until it runs out of memory.
function checkLayerCount(layers: number, tensorCount: number): void {
  if (layers > MAX_LAYERS) {
    fail('BAD_CHECKPOINT', `config.json: ${layers} layers is more than llmc builds (${MAX_LAYERS})`, 'fix num_hidden_layers (or n_layer) in config.json');
  }
  if (tensorCount > 0 && layers > tensorCount) {
    fail('BAD_CHECKPOINT', `config.json says ${layers} layers but the checkpoint holds only ${tensorCount} tensors`, 'fix num_hidden_layers (or n_layer) in config.json');
  }
}

export function resolveWeights(m: LoadedModel): WeightTable {
  return resolveWeightMap(m.family.weightMap(m.cfg, new Set(m.tensors.keys())), m.tensors, m.architecture);
}
