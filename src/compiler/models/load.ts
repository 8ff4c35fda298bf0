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
  checkWidths(cfg);
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

/** Widest row (hidden, intermediate, vocab, heads x head_dim) llmc builds: 2^22, 16x the widest real model's. */
export const MAX_WIDTH = 1 << 22;

// The graph builders make build-time tables as wide as these (rope.inv_freq has rotary_dim/2 entries), before the
// weights' shapes are compared with the config: a config.json claiming head_dim 2^31 (found by `npm run fuzz --
// --target quant-checkpoint`) made V8 abort the whole process ("invalid size error") instead of a one-line error.
function checkWidths(cfg: ModelConfig): void {
  const widths: [string, number][] = [
    ['hidden_size', cfg.hidden_size], ['intermediate_size', cfg.intermediate_size], ['vocab_size', cfg.vocab_size],
    ['head_dim', cfg.head_dim], ['num_attention_heads x head_dim', cfg.num_heads * cfg.head_dim],
    ['num_key_value_heads x head_dim', cfg.num_kv_heads * cfg.head_dim], ['rotary_dim', cfg.rotary_dim], ['embedding_dim', cfg.embedding_dim],
  ];
  for (const [what, n] of widths) {
    if (n > MAX_WIDTH) fail('BAD_CHECKPOINT', `config.json: ${what} is ${n}, more than llmc builds (${MAX_WIDTH})`, 'fix config.json to match the checkpoint\'s weights');
  }
}

export function resolveWeights(m: LoadedModel): WeightTable {
  return resolveWeightMap(m.family.weightMap(m.cfg, new Set(m.tensors.keys())), m.tensors, m.architecture);
}
