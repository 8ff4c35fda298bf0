// Constants of the engine format (docs/engine-format.md). The format version, magic, header layout and alignments
// are generated from schema/engine-format.json (the C++ reader gets the same values: llmc/engine_format.generated.h);
// bump the version there, with the spec, on any structural change.
export { DATA_ALIGN, FORMAT_VERSION, HEADER_BYTES, HEADER_OFFSETS, MAGIC, WEIGHT_ALIGN } from './format.generated.js';
export const KV_BLOCK_SIZE = 16;         // tokens per paged KV-cache block (a build choice the plan records, not a format constant)

export const ENGINE_FILE = 'rank0.engine';
/** rank r's engine file (TensorRT-LLM's naming); a one-rank engine has rank0.engine alone. */
export const rankFile = (r: number) => `rank${r}.engine`;
export const MANIFEST_FILE = 'config.json';
/** Checkpoint files copied into the engine when present. */
export const COPIED_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'] as const;

import type { PlanDummy } from '../dummy/init.js';
import type { WeightDType } from '../ir/graph.js';
import type { PlanKvDType } from './kv-dtype.js';
export type { PlanDummy } from '../dummy/init.js';

export const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

/** Plan JSON types (what rank0.engine carries between the header and the data). */
/** A weight: bytes at `offset` in the data section, or (dummy-weight engines) generated at load from `dummy`. */
export interface PlanWeightValue {
  id: number; name: string; kind: 'weight'; dtype: WeightDType; shape: number[]; offset?: number; dummy?: PlanDummy; nbytes: number;
}
export interface PlanActivationValue {
  id: number; name: string; kind: 'activation'; rows: 'tokens' | 'logit_rows'; width: number; arena_offset: number;
}
export type PlanValue = PlanWeightValue | PlanActivationValue;
export interface PlanNode {
  op: string; op_id: number; name: string; inputs: number[]; outputs: number[]; attrs: Record<string, number | string | number[]>;
}
export interface Plan {
  format_version: number;
  schema_hash: string;
  model: { vocab_size: number; hidden_size: number; num_layers: number; num_heads: number; num_kv_heads: number; head_dim: number };
  limits: { max_batch_size: number; max_seq_len: number; max_num_tokens: number; max_logit_rows: number };
  kv_cache: { num_layers: number; num_kv_heads: number; head_dim: number; dtype: PlanKvDType; block_size: number };
  /** Token arena: floats_per_token * max_num_tokens f32 (the `tokens` values); logits arena:
   *  logit_floats_per_row * max_logit_rows f32 (the `logit_rows` values). arena_offset is in its value's arena. */
  arena: { floats_per_token: number; logit_floats_per_row: number };
  values: PlanValue[];
  nodes: PlanNode[];
  outputs: { logits: number };   // -1 on a rank whose step ends without logits (only rank 0 samples)
  /** Sharded engines: where this rank sits (docs/parallel.md); absent on a one-rank engine. */
  mapping?: import('../ir/graph.js').RankMapping;
}
