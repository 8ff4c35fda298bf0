// Constants of the engine format (docs/engine-format.md). Bump FORMAT_VERSION with the spec and the C++ reader
// (native/include/llmc/llmc.h LLMC_ENGINE_FORMAT_VERSION) on any structural change.
export const FORMAT_VERSION = 2;   // 2: weight dtypes i8/u4/f8e4m3/i32 and linear_q (quantized engines); kv_cache.dtype f16/bf16/i8/f8e4m3;
                                   //    rank<r>.engine per rank (sharded)
export const MAGIC = Buffer.from([0x4c, 0x4c, 0x4d, 0x43, 0x45, 0x4e, 0x47, 0x00]); // "LLMCENG\0"
export const HEADER_BYTES = 40;          // magic, version, flags, plan length, data offset, data size
export const DATA_ALIGN = 4096;          // data section offset (page aligned for mmap)
export const WEIGHT_ALIGN = 64;          // each weight's offset inside the data section
export const KV_BLOCK_SIZE = 16;         // tokens per paged KV-cache block

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
  limits: { max_batch_size: number; max_seq_len: number; max_num_tokens: number };
  kv_cache: { num_layers: number; num_kv_heads: number; head_dim: number; dtype: PlanKvDType; block_size: number };
  arena: { floats_per_token: number };
  values: PlanValue[];
  nodes: PlanNode[];
  outputs: { logits: number };   // -1 on a rank whose step ends without logits (only rank 0 samples)
  /** Sharded engines: where this rank sits (docs/parallel.md); absent on a one-rank engine. */
  mapping?: import('../ir/graph.js').RankMapping;
}
