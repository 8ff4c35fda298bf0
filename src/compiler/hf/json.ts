// JSON files of a checkpoint (config.json, index, generation_config.json): parse errors name the file.
import { fail } from '../../errors.js';
import { parseJson } from '../../json-depth.js';

export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = parseJson(text);
  } catch (e) {
    return fail('BAD_CHECKPOINT', `${what} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('BAD_CHECKPOINT', `${what} is not a JSON object`);
  return v as Record<string, unknown>;
}
