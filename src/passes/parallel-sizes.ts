// Which tensor- and pipeline-parallel sizes a model allows, checked before any rank is built so a bad
// --tp-size / --pp-size is one line naming the sizes that work (docs/parallel.md "Sizes").
//   tp: divides num_heads (whole query heads per rank); num_kv_heads is a multiple of tp (kv heads split) or a
//       divisor of it (each kv head replicated on tp / num_kv_heads ranks, MQA included); divides the MLP width
//       (intermediate_size) so gate/up/fc1 split evenly. The vocabulary need not divide: parts differ by one row.
//   pp: at most num_layers (every stage holds at least one layer).
import { fail } from '../errors.js';
import type { ModelConfig } from '../compiler/models/config.js';

export const MAX_WORLD_SIZE = 1024;

export function tpAllowed(cfg: Pick<ModelConfig, 'num_heads' | 'num_kv_heads' | 'intermediate_size'>, tp: number): boolean {
  const kv = cfg.num_kv_heads;
  return cfg.num_heads % tp === 0 && (kv % tp === 0 || tp % kv === 0) && cfg.intermediate_size % tp === 0;
}

export function allowedTpSizes(cfg: Pick<ModelConfig, 'num_heads' | 'num_kv_heads' | 'intermediate_size'>): number[] {
  const out: number[] = [];
  for (let t = 1; t <= cfg.num_heads; t++) if (tpAllowed(cfg, t)) out.push(t);
  return out;
}

/** Throws BAD_ARGUMENT for a tp / pp the model cannot be split into. */
export function checkParallelSizes(cfg: ModelConfig, tp: number, pp: number): void {
  for (const [flag, v] of [['--tp-size', tp], ['--pp-size', pp]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) fail('BAD_ARGUMENT', `${flag} must be a positive integer, got ${String(v)}`);
  }
  if (tp * pp > MAX_WORLD_SIZE) fail('BAD_ARGUMENT', `--tp-size ${tp} x --pp-size ${pp} = ${tp * pp} ranks is more than ${MAX_WORLD_SIZE}`);
  if (!tpAllowed(cfg, tp)) {
    const why = cfg.num_heads % tp !== 0 ? `does not divide the model's ${cfg.num_heads} attention heads`
      : cfg.intermediate_size % tp !== 0 ? `does not divide the MLP width ${cfg.intermediate_size}`
        : `does not fit the model's ${cfg.num_kv_heads} kv heads (tp must divide them or be a multiple of them)`;
    fail('BAD_ARGUMENT', `--tp-size ${tp} ${why}`, `use one of ${allowedTpSizes(cfg).join(', ')}`);
  }
  if (pp > cfg.num_layers) {
    fail('BAD_ARGUMENT', `--pp-size ${pp} is more than the model's ${cfg.num_layers} layers`, `use --pp-size ${cfg.num_layers} or less`);
  }
}
