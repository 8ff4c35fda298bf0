// Special token ids: generation_config.json first (what `generate` uses), then config.json. eos may be a list.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { parseJsonObject } from './json.js';

export interface GenerationIds {
  bos_token_id: number | null;
  eos_token_ids: number[];
  pad_token_id: number | null;
}

export const GENERATION_CONFIG = 'generation_config.json';

/** `dir` null: from config.json alone (dummy-weight builds from a preset). */
export function readGeneration(dir: string | null, config: Record<string, unknown>): GenerationIds {
  const path = dir === null ? null : join(dir, GENERATION_CONFIG);
  const gen = path !== null && existsSync(path) ? parseJsonObject(readFileSync(path, 'utf8'), `${GENERATION_CONFIG} in ${dir}`) : {};
  const pick = (key: string): unknown => (gen[key] ?? null) !== null ? gen[key] : (config[key] ?? null);
  const id = (key: string): number | null => {
    const v = pick(key);
    if (v === null) return null;
    if (!Number.isInteger(v) || (v as number) < 0) fail('BAD_CHECKPOINT', `${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const eosRaw = pick('eos_token_id');
  const eosList = eosRaw === null ? [] : Array.isArray(eosRaw) ? eosRaw : [eosRaw];
  if (eosList.some((v) => !Number.isInteger(v) || v < 0)) fail('BAD_CHECKPOINT', `eos_token_id must be an id or a list of ids, got ${JSON.stringify(eosRaw)}`);
  return { bos_token_id: id('bos_token_id'), eos_token_ids: [...new Set(eosList as number[])], pad_token_id: id('pad_token_id') };
}
