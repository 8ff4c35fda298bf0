// --config for `llmc build --dummy-weights`: a preset name (dummy/presets.ts), a config.json file, or a checkpoint
// directory (its config.json; generation_config.json and the tokenizer files come along when present, so
// `llmc run --prompt` works on the dummy engine). Only the config is read: no safetensors are needed.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fail } from '../../errors.js';
import { readGeneration, type GenerationIds } from '../hf/generation.js';
import { parseJsonObject } from '../hf/json.js';
import { PRESETS, presetNames } from './presets.js';

export interface DummyConfig {
  config: Record<string, unknown>;
  /** What --config named: the preset name or the absolute path (recorded in the manifest for rebuilds). */
  label: string;
  /** Directory to copy tokenizer files from (a checkpoint directory), or null. */
  dir: string | null;
  generation: GenerationIds;
}

export function resolveDummyConfig(spec: string | undefined): DummyConfig {
  const hint = `pass --config with a preset (${presetNames().join(', ')}), a config.json or a checkpoint directory`;
  if (spec === undefined || spec.trim() === '') fail('BAD_ARGUMENT', '--dummy-weights needs --config', hint);
  const preset = PRESETS[spec];
  if (preset) {
    const config = structuredClone(preset) as Record<string, unknown>;
    return { config, label: spec, dir: null, generation: readGeneration(null, config) };
  }
  const path = resolve(spec);
  if (!existsSync(path)) fail('NOT_FOUND', `--config ${spec} is neither a preset nor an existing file`, hint);
  const isDir = statSync(path).isDirectory();
  const file = isDir ? join(path, 'config.json') : path;
  if (!existsSync(file)) fail('NOT_FOUND', `--config ${spec}: no config.json in ${path}`, hint);
  const config = parseJsonObject(readFileSync(file, 'utf8'), file);
  const dir = isDir ? path : dirname(path);
  return { config, label: path, dir: isDir ? path : null, generation: readGeneration(dir, config) };
}
