// A directory that passes the TypeScript manifest checks (config.json + a placeholder rank0.engine) without a
// compiled model: enough to test everything the CLI does before the native runtime is involved.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_HASH } from '../../src/compiler/ir/ops.generated.js';
import { FORMAT_VERSION } from '../../src/compiler/engine/format.js';
import { repoRoot, tempDir } from '../helpers/cli.js';

export const llama3TokenizerDir = join(repoRoot, 'node_modules', '@lenml', 'tokenizer-llama3', 'models');

export interface FakeEngineOptions {
  withTokenizer?: boolean;
  maxSeqLen?: number;
  vocabSize?: number;
  manifest?: Record<string, unknown>;  // fields merged over the defaults
}

export function fakeEngine(opts: FakeEngineOptions = {}): string {
  const dir = join(tempDir('llmc-fake-engine-'), 'engine');
  mkdirSync(dir);
  const manifest = {
    format_version: FORMAT_VERSION,
    schema_hash: SCHEMA_HASH,
    llmc_version: '0.1.0',
    model: { vocab_size: opts.vocabSize ?? 512, hidden_size: 64, num_layers: 2 },
    build: { dtype: 'float32', max_batch_size: 8, max_seq_len: opts.maxSeqLen ?? 64, max_num_tokens: 64 },
    target: { backend: 'cpu' },
    memory_plan: { weights_bytes: 1024, decode_weight_bytes: 1024, kv_bytes_per_token: 512, kv_cache_bytes: 4096 },
    source: { dir: '/models/tiny' },
    generation: { bos_token_id: 1, eos_token_ids: [2] },
    tokenizer: { present: Boolean(opts.withTokenizer) },
    ...opts.manifest,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(manifest));
  writeFileSync(join(dir, 'rank0.engine'), Buffer.alloc(64));
  if (opts.withTokenizer) {
    copyFileSync(join(llama3TokenizerDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    copyFileSync(join(llama3TokenizerDir, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  }
  return dir;
}
