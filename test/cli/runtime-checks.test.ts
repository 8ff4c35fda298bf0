// Checks the TypeScript runtime makes before touching native code: sampling ranges, manifest, prompt ids,
// and the addon loader's message when the addon is missing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlmcError } from '../../src/errors.js';
import { checkPromptIds } from '../../src/runtime/generation.js';
import { readEngineManifest, rebuildCommand } from '../../src/runtime/manifest.js';
import { fromNativeError } from '../../src/runtime/native-error.js';
import { DEFAULT_SAMPLING, validateSampling } from '../../src/runtime/sampling.js';
import { tempDir } from '../helpers/cli.js';
import { fakeEngine } from './fake-engine.js';

describe('validateSampling', () => {
  test('defaults are greedy and reproducible', () => {
    expect(validateSampling()).toEqual(DEFAULT_SAMPLING);
    expect(DEFAULT_SAMPLING).toEqual({ temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 });
  });

  test('valid values pass through', () => {
    expect(validateSampling({ temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 7 }))
      .toEqual({ temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 7 });
  });

  test.each([
    [{ temperature: -0.1 }, /^--temperature must be a number >= 0 \(0 = greedy\), got -0.1$/],
    [{ temperature: Infinity }, /--temperature/],
    [{ topK: -1 }, /^--top-k must be an integer >= 0 \(0 = off\), got -1$/],
    [{ topK: 2.5 }, /--top-k/],
    [{ topP: 0 }, /^--top-p must be a number in \(0, 1\] \(1 = off\), got 0$/],
    [{ topP: 1.01 }, /--top-p/],
    [{ repetitionPenalty: 0 }, /^--repetition-penalty must be a number > 0/],
    [{ seed: -1 }, /^--seed must be an integer in \[0, 2\^53\)/],
    [{ seed: 0.5 }, /--seed/],
  ])('%j is rejected', (opts, pattern) => {
    expect(() => validateSampling(opts)).toThrow(pattern);
    try {
      validateSampling(opts);
    } catch (e) {
      expect((e as LlmcError).code).toBe('BAD_ARGUMENT');
    }
  });
});

describe('checkPromptIds', () => {
  test('empty, out of vocabulary, too long', () => {
    expect(() => checkPromptIds([], 10, 8)).toThrow(/empty/);
    expect(() => checkPromptIds([3, 10], 10, 8)).toThrow(/token id 10 .* outside the vocabulary \[0, 10\)/);
    expect(() => checkPromptIds([1.5], 10, 8)).toThrow(/outside the vocabulary/);
    try {
      checkPromptIds([1, 2, 3], 10, 2);
      throw new Error('no error');
    } catch (e) {
      expect((e as LlmcError).code).toBe('LIMIT');
      expect((e as Error).message).toMatch(/3 tokens but this engine's max_seq_len is 2/);
    }
    expect(() => checkPromptIds([0, 9], 10, 2)).not.toThrow();
  });
});

describe('readEngineManifest', () => {
  test('a good engine', () => {
    const m = readEngineManifest(fakeEngine({ maxSeqLen: 128 }));
    expect(m.build.max_seq_len).toBe(128);
  });

  test('bad JSON, missing fields, missing rank0.engine', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), '{not json');
    expect(() => readEngineManifest(dir)).toThrow(/config.json is not valid JSON/);
    const noRank = fakeEngine();
    const noRankDir = join(tempDir(), 'e');
    mkdirSync(noRankDir);
    writeFileSync(join(noRankDir, 'config.json'), JSON.stringify(readEngineManifest(noRank)));
    expect(() => readEngineManifest(noRankDir)).toThrow(/no rank0.engine.*rebuild it/);
    expect(() => readEngineManifest(fakeEngine({ manifest: { build: {} } }))).toThrow(/no build.max_seq_len/);
  });

  test('rebuild command repeats the build flags', () => {
    expect(rebuildCommand('out', { source: { dir: '/hf' }, build: { dtype: 'float16', max_seq_len: 512, max_batch_size: 4 } }))
      .toBe('llmc build /hf -o out --dtype float16 --max-batch-size 4 --max-seq-len 512 --force');
  });
});

describe('fromNativeError', () => {
  test('maps llmc_status names to LlmcError codes and keeps the message on one line', () => {
    const e = Object.assign(new Error('prompt of 9 tokens\nexceeds max_seq_len 8'), { code: 'LLMC_ERR_LIMIT' });
    const mapped = fromNativeError(e) as LlmcError;
    expect(mapped).toBeInstanceOf(LlmcError);
    expect(mapped.code).toBe('LIMIT');
    expect(mapped.message).toBe('prompt of 9 tokens exceeds max_seq_len 8');
    const other = new Error('plain');
    expect(fromNativeError(other)).toBe(other);
  });
});
