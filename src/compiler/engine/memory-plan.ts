// The memory an engine needs, written into the manifest and printed by `llmc build`:
//   weights_bytes          every weight in rank0.engine
//   decode_weight_bytes    weights one decode step reads: all of them, except tables only gathered from
//                          (embedding, learned positions read just the step's rows). A tied embedding is read
//                          whole by the LM head, so it counts.
//   arena_floats_per_token token arena width (the `tokens` values), 4 * that * max_num_tokens bytes
//   arena_logit_floats_per_row logits arena width (the `logit_rows` values), 4 * that * max_logit_rows bytes
//   max_logit_rows         the logits arena's rows (plan.ts maxLogitRows)
//   activation_bytes       both arenas
//   kv_cache_dtype         the KV cache's storage (--kv-cache-dtype)
//   kv_bytes_per_token     all layers, k and v (and their scales for int8/fp8), in that storage
//   kv_cache_bytes         the runtime's default cache: max_batch_size * ceil(max_seq_len / block) blocks
import type { Graph } from '../ir/graph.js';
import type { ModelConfig } from '../models/config.js';
import { KV_BLOCK_SIZE } from './format.js';
import { KV_CACHE_DTYPES, kvBlockBytes, type KvCacheDType } from './kv-dtype.js';
import { maxLogitRows, type Limits, type WeightLayout } from './plan.js';

export interface MemoryPlan {
  weights_bytes: number;
  decode_weight_bytes: number;
  arena_floats_per_token: number;
  arena_logit_floats_per_row: number;
  max_logit_rows: number;
  token_arena_bytes: number;
  logits_arena_bytes: number;
  activation_bytes: number;
  kv_cache_dtype: KvCacheDType;
  kv_bytes_per_token: number;
  kv_cache_bytes: number;
}

const GATHER_TABLE_OPS = new Set(['embedding', 'embedding_shard', 'pos_embedding']);

export function memoryPlan(g: Graph, cfg: ModelConfig, limits: Limits, layout: WeightLayout, kvDType: KvCacheDType = 'float32'): MemoryPlan {
  const streamed = new Set<string>();   // weights some op reads whole
  for (const n of g.nodes) {
    if (GATHER_TABLE_OPS.has(n.op)) continue;
    for (const x of n.inputs) if (x?.kind === 'weight') streamed.add(x.name);
  }
  let weights = 0;
  let decode = 0;
  for (const p of layout.weights) {
    weights += p.nbytes;
    if (streamed.has(p.weight.name)) decode += p.nbytes;
  }
  const fpt = g.arena?.floatsPerToken ?? 0;
  const lfpr = g.arena?.logitFloatsPerRow ?? 0;
  const logitRows = maxLogitRows(limits);
  const kvBlock = (g.mapping?.num_layers ?? cfg.num_layers) * kvBlockBytes(kvDType, g.mapping?.num_kv_heads ?? cfg.num_kv_heads, KV_BLOCK_SIZE, cfg.head_dim);  // this rank's layers
  const blocks = limits.max_batch_size * Math.ceil(limits.max_seq_len / KV_BLOCK_SIZE);
  return {
    weights_bytes: weights,
    decode_weight_bytes: decode,
    arena_floats_per_token: fpt,
    arena_logit_floats_per_row: lfpr,
    max_logit_rows: logitRows,
    token_arena_bytes: 4 * fpt * limits.max_num_tokens,
    logits_arena_bytes: 4 * lfpr * logitRows,
    activation_bytes: 4 * (fpt * limits.max_num_tokens + lfpr * logitRows),
    kv_cache_dtype: kvDType,
    kv_bytes_per_token: kvBlock / KV_BLOCK_SIZE,
    kv_cache_bytes: blocks * kvBlock,
  };
}

export function memoryPlanLines(m: MemoryPlan, limits: Limits, dtype: string): string[] {
  const mb = (b: number) => `${(b / (1024 * 1024)).toFixed(2)} MiB`;  // 2^20 bytes: MiB, not MB
  return [
    `memory plan: weights ${mb(m.weights_bytes)} (${dtype}); one decode step reads ${mb(m.decode_weight_bytes)}`,
    `memory plan: KV cache ${KV_CACHE_DTYPES[m.kv_cache_dtype].what}, ${m.kv_bytes_per_token} bytes/token; ${mb(m.kv_cache_bytes)} at ${limits.max_batch_size} sequences x ${limits.max_seq_len} tokens`,
    `memory plan: activations ${mb(m.activation_bytes)}: token arena ${m.arena_floats_per_token} floats/token x ${limits.max_num_tokens} tokens = ${mb(m.token_arena_bytes)}, ` +
      `logits arena ${m.arena_logit_floats_per_row} floats/row x ${m.max_logit_rows} rows = ${mb(m.logits_arena_bytes)}`,
  ];
}
