// What a model family file provides (one file per family, e.g. models/llama.ts; registered in models/index.ts).
// A family only maps: HF config -> ModelConfig, HF tensor names -> canonical weights. The graph comes from the
// shared layer builders (layers/decoder.ts) unless the family needs its own `build`.
import type { Graph } from '../ir/graph.js';
import type { LayerContext } from '../layers/context.js';
import type { ModelConfig } from './config.js';
import type { HfConfig } from './hf-config.js';
import type { WeightMap } from './weight-map.js';

export interface ModelFamily {
  name: string;                      // e.g. 'llama'
  architectures: readonly string[];  // HF architectures it handles, e.g. ['LlamaForCausalLM', ...]
  /** HF config -> ModelConfig. `tensorNames` lets a family settle what config.json leaves implicit. */
  normalize(hf: HfConfig, tensorNames: ReadonlySet<string>): ModelConfig;
  /** Every checkpoint tensor mapped to a canonical target or declared unused. */
  weightMap(cfg: ModelConfig, tensorNames: ReadonlySet<string>): WeightMap;
  /** Graph construction; default: layers/decoder.ts buildDecoder. */
  build?(ctx: LayerContext): Graph;
}
