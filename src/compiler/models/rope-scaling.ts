// config.json rope_scaling -> RopeScaling. Real configs spell the kind `rope_type` (newer) or `type` (older), and
// some write both. Kinds that change the math in ways llmc does not implement (dynamic NTK, yarn, longrope, ...)
// are UNSUPPORTED rather than silently ignored.
import { fail } from '../../errors.js';
import type { RopeScaling } from './config.js';
import type { HfConfig } from './hf-config.js';

export const SUPPORTED_ROPE_SCALING = ['linear', 'llama3'] as const;

export function parseRopeScaling(hf: HfConfig): RopeScaling | null {
  const rs = hf.object('rope_scaling');
  if (!rs) return null;
  const type = rs.rope_type ?? rs.type;
  if (typeof type !== 'string') fail('BAD_CHECKPOINT', `config.json: rope_scaling has no rope_type (or type): ${JSON.stringify(rs)}`);
  const num = (key: string): number => {
    const v = rs[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      fail('BAD_CHECKPOINT', `config.json: rope_scaling.${key} must be a positive number for rope_scaling type ${type}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  switch (type) {
    case 'default':
      return null;
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'llama3': {
      const s: RopeScaling = {
        type: 'llama3', factor: num('factor'), low_freq_factor: num('low_freq_factor'), high_freq_factor: num('high_freq_factor'),
        original_max_position_embeddings: num('original_max_position_embeddings'),
      };
      if (s.high_freq_factor <= s.low_freq_factor) fail('BAD_CHECKPOINT', 'config.json: rope_scaling.high_freq_factor must be larger than low_freq_factor');
      return s;
    }
    default:
      return fail('UNSUPPORTED', `unsupported rope_scaling type ${type}`, `llmc supports rope_scaling types ${SUPPORTED_ROPE_SCALING.join(', ')}`);
  }
}
