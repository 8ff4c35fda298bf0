// The family registry, keyed by HF architecture (config.json `architectures[0]`). Add a family here.
import { fail } from '../../errors.js';
import type { ModelFamily } from './family.js';
import { bloom } from './bloom.js';
import { falcon } from './falcon.js';
import { gemma } from './gemma.js';
import { gpt2 } from './gpt2.js';
import { gptBigcode } from './gpt-bigcode.js';
import { gptj } from './gptj.js';
import { gptNeox } from './gpt-neox.js';
import { llama } from './llama.js';
import { mpt } from './mpt.js';
import { opt } from './opt.js';
import { phi } from './phi.js';
import { starcoder2 } from './starcoder2.js';

export const FAMILIES: readonly ModelFamily[] = [llama, gpt2, gptBigcode, gptj, gptNeox, opt, bloom, mpt, phi, gemma, starcoder2, falcon];

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
