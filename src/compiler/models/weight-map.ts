// The weight map of a family: every checkpoint tensor is either mapped (target <- source expression, see
// ir/weight-source.ts) or declared unused. resolveWeightMap() checks both directions against the checkpoint:
// a tensor the map needs but the checkpoint lacks, and a checkpoint tensor the map does not account for, are
// BAD_CHECKPOINT errors naming the tensor (an unaccounted tensor usually means config.json and the weights
// disagree, e.g. attention_bias, or a variant llmc does not know).
//
// Target names are llmc's canonical, family-independent names, which the layer builders ask for:
//   embed.weight  embed_norm.{weight,bias}  pos_embed.weight
//   l{i}.attn_norm.{weight,bias}  l{i}.{q,k,v,qkv,o}.{weight,bias}
//   l{i}.mlp_norm.{weight,bias}   l{i}.{gate,up,down}.{weight,bias}
//   final_norm.{weight,bias}  lm_head.{weight,bias}
//   proj_in.weight  proj_out.weight     (opt-350m: word_embed_proj_dim != hidden_size)
// `l{i}.qkv` is one fused projection whose rows are [q | k | v] (the family reorders a checkpoint's own fused
// layout into that with rows()/concat(), see models/qkv-layout.ts).
//
// Checkpoint names: a family writes them as HF's save_pretrained does, with the base-model prefix
// (`transformer.h.0.attn.c_attn.weight`). Checkpoints saved from the base model (many Hub gpt2, bloom, opt, ...
// repos) lack it (`h.0.attn.c_attn.weight`); withBasePrefix() adds it back before the family sees the names, the
// way transformers matches them, so no family deals with both spellings.
import { fail } from '../../errors.js';
import { HF_BUFFERS } from '../hf/buffers.js';
import type { TensorInfo } from '../hf/safetensors.js';
import { sourceShape, sourceTensors, formatSource, tensor, type WeightSource } from '../ir/weight-source.js';

export interface WeightMapEntry {
  target: string;
  source: WeightSource;
}

export interface WeightMap {
  entries: WeightMapEntry[];
  /** Checkpoint tensors that are not weights of the model (HF buffers such as rotary_emb.inv_freq). */
  unused: RegExp[];
}

/** Collects a family's map: `map(target, source)` for weights, `unused(re)` for buffers. */
export class WeightMapBuilder {
  readonly entries: WeightMapEntry[] = [];
  readonly unusedPatterns: RegExp[] = [...HF_BUFFERS];   // hf/buffers.ts: attn.bias, masked_bias, rotary_emb.inv_freq

  /** target <- a checkpoint tensor (by name) or a source expression. */
  map(target: string, source: string | WeightSource): void {
    this.entries.push({ target, source: typeof source === 'string' ? tensor(source) : source });
  }

  /** `<target>.weight` and, when `bias`, `<target>.bias` from `<name>.weight` / `<name>.bias`. */
  linear(target: string, name: string, bias: boolean): void {
    this.map(`${target}.weight`, `${name}.weight`);
    if (bias) this.map(`${target}.bias`, `${name}.bias`);
  }

  unused(...patterns: RegExp[]): void {
    this.unusedPatterns.push(...patterns);
  }

  finish(): WeightMap {
    return { entries: this.entries, unused: this.unusedPatterns };
  }
}

/**
 * The checkpoint's tensors under the names save_pretrained would give them. If no tensor carries `basePrefix`
 * (a checkpoint saved from the base model), every tensor except the head's (`headPrefixes`, e.g. `lm_head.`)
 * gets it, as transformers' from_pretrained does when it loads a base-model checkpoint into a *ForCausalLM.
 * Otherwise the names stay as they are (a mix is left for resolveWeightMap to report).
 */
export function withBasePrefix(tensors: ReadonlyMap<string, TensorInfo>, basePrefix: string, headPrefixes: readonly string[]): Map<string, TensorInfo> {
  const names = [...tensors.keys()];
  if (basePrefix === '' || names.some((n) => n.startsWith(basePrefix))) return new Map(tensors);
  return new Map([...tensors].map(([n, t]) => [headPrefixes.some((h) => n.startsWith(h)) ? n : basePrefix + n, t]));
}

export interface MappedWeight {
  target: string;
  source: WeightSource;
  shape: number[];
}

/** The resolved map: target name -> source expression and its shape. */
export class WeightTable {
  constructor(private readonly byTarget: Map<string, MappedWeight>) {}

  has(target: string): boolean {
    return this.byTarget.has(target);
  }

  /** The mapped weight `target`; its shape must be `expected` (what the config implies). */
  get(target: string, expected: readonly number[]): MappedWeight {
    const m = this.byTarget.get(target);
    if (!m) throw new Error(`the weight map has no ${target} (family mapping and layer builders disagree)`);
    if (m.shape.join(',') !== expected.join(',')) {
      fail('BAD_CHECKPOINT', `${describe(m.source)} has shape [${m.shape}] but config.json implies [${expected}] for ${target}`,
        'config.json does not match the weights');
    }
    return m;
  }

  targets(): string[] {
    return [...this.byTarget.keys()];
  }
}

function describe(s: WeightSource): string {
  return s.op === 'tensor' ? `tensor ${s.name}` : formatSource(s);
}

export function resolveWeightMap(map: WeightMap, tensors: ReadonlyMap<string, TensorInfo>, architecture: string): WeightTable {
  const byTarget = new Map<string, MappedWeight>();
  const referenced = new Set<string>();
  const missing: { tensor: string; target: string }[] = [];
  for (const e of map.entries) {
    if (byTarget.has(e.target)) throw new Error(`weight map of ${architecture} maps ${e.target} twice`);
    for (const t of sourceTensors(e.source)) {
      referenced.add(t);
      if (!tensors.has(t)) missing.push({ tensor: t, target: e.target });
    }
    byTarget.set(e.target, { target: e.target, source: e.source, shape: [] });
  }
  if (missing.length > 0) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    fail('BAD_CHECKPOINT', `tensor ${missing[0].tensor} is missing from the checkpoint${more}; ${architecture} needs it for ${missing[0].target}`,
      'config.json may not match the weights, or the download is incomplete');
  }
  const unmapped = [...tensors.keys()].filter((t) => !referenced.has(t) && !map.unused.some((re) => re.test(t)));
  if (unmapped.length > 0) {
    const more = unmapped.length > 1 ? ` (and ${unmapped.length - 1} more)` : '';
    fail('BAD_CHECKPOINT', `tensor ${unmapped[0]} in the checkpoint is not mapped by llmc's ${architecture} mapping${more}`,
      'config.json may not match the weights (e.g. attention_bias, tie_word_embeddings), or this is a variant llmc does not support');
  }
  for (const m of byTarget.values()) m.shape = sourceShape(m.source, (name) => tensors.get(name)!.shape);
  return new WeightTable(byTarget);
}
