// The family registry, keyed by HF architecture (config.json `architectures[0]`). Add a family here.
import { fail } from '../../errors.js';
import type { ModelFamily } from './family.js';
import { gpt2 } from './gpt2.js';
import { llama } from './llama.js';

export const FAMILIES: readonly ModelFamily[] = [llama, gpt2];

export function supportedArchitectures(): string[] {
  return FAMILIES.flatMap((f) => f.architectures);
}

export function familyFor(config: Record<string, unknown>): { family: ModelFamily; architecture: string } {
  const archs = config.architectures;
  if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string') {
    fail('BAD_CHECKPOINT', 'config.json has no architectures list', `llmc supports ${supportedArchitectures().join(', ')}`);
  }
  const architecture = archs[0] as string;
  const family = FAMILIES.find((f) => f.architectures.includes(architecture));
  if (!family) fail('UNSUPPORTED', `unsupported architecture ${architecture}`, `llmc supports ${supportedArchitectures().join(', ')}`);
  return { family, architecture };
}
