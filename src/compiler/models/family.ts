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
  /** HF base_model_prefix plus the dot ('model.', 'transformer.', 'gpt_neox.'): see weight-map.ts withBasePrefix. */
  basePrefix: string;
  /** Tensor name prefixes of the head, which sit outside the base model (default ['lm_head.']). */
  headPrefixes?: readonly string[];
  /**
   * HF config -> ModelConfig. `tensorNames` (already carrying the base prefix) lets a family settle what
   * config.json leaves implicit. Any value that changes the math and that llmc does not implement is UNSUPPORTED
   * naming the field and the value.
   */
  normalize(hf: HfConfig, tensorNames: ReadonlySet<string>): ModelConfig;
  /** Every checkpoint tensor mapped to a canonical target or declared unused. */
  weightMap(cfg: ModelConfig, tensorNames: ReadonlySet<string>): WeightMap;
  /** Graph construction; default: layers/decoder.ts buildDecoder. */
  build?(ctx: LayerContext): Graph;
}
