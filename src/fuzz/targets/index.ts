// Every fuzz target, by name. To fuzz a new parser, add a FuzzTarget here.
import type { FuzzTarget } from '../target.js';
import { configTarget, safetensorsTarget, shardedTarget } from './checkpoint.js';
import { cliTarget } from './cli.js';
import { engineTarget } from './engine.js';
import { harnessCheckTarget } from './harness-check.js';
import { httpTarget } from './http.js';
import { quantCheckpointTarget } from './quant.js';
import { chatTemplateTarget, tokenizerTarget } from './tokenizer.js';

export const TARGETS: readonly FuzzTarget[] = [
  safetensorsTarget, shardedTarget, configTarget, quantCheckpointTarget, tokenizerTarget, chatTemplateTarget, engineTarget, cliTarget, httpTarget,
  ...(process.env.LLMC_FUZZ_SELFTEST === '1' ? [harnessCheckTarget] : []),
];

export function targetByName(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
