// Streaming detokenization: text appears only when it decodes stably; multi-byte characters split across
// tokens never print U+FFFD, and the concatenated stream equals decoding everything at once.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamingDetokenizer } from '../../src/runtime/detokenizer.js';
import { TextTokenizer } from '../../src/runtime/tokenizer.js';
import { llama3TokenizerDir } from './fake-engine.js';

const tok = new TextTokenizer(
  JSON.parse(readFileSync(join(llama3TokenizerDir, 'tokenizer.json'), 'utf8')),
  JSON.parse(readFileSync(join(llama3TokenizerDir, 'tokenizer_config.json'), 'utf8')));
const decode = (ids: number[]) => tok.decode(ids);

function streamAll(ids: number[], prompt: number[] = []): string[] {
  const d = new StreamingDetokenizer(decode, prompt);
  const pieces = ids.map((id) => d.push(id));
  pieces.push(d.flush());
  return pieces;
}

describe('StreamingDetokenizer (llama3 byte-level BPE)', () => {
  test.each([
    'Hello 世界 🎉!',
    '🚀🚀🚀 emoji runs',
    '한국어 텍스트',
    'plain ascii text with spaces',
    'Ünïcödé çhàrs',
  ])('%j streams without replacement characters and matches a full decode', (text) => {
    const ids = tok.encode(text, false);
    const pieces = streamAll(ids);
    for (const p of pieces) expect(p).not.toContain('\uFFFD');
    expect(pieces.join('')).toBe(text);
  });

  test('an emoji split over 3 byte tokens is held back until complete', () => {
    const ids = tok.encode(' 🎉', false);
    expect(ids.length).toBe(3);  // 'ĠðŁ', 'İ', 'ī'
    const d = new StreamingDetokenizer(decode);
    expect(d.push(ids[0])).toBe('');
    expect(d.push(ids[1])).toBe('');
    expect(d.push(ids[2])).toBe(' 🎉');
  });

  test('prompt context: the first generated token keeps its leading space', () => {
    const prompt = tok.encode('Hello', false);
    const gen = tok.encode(' world', false);
    expect(streamAll(gen, prompt).join('')).toBe(' world');
  });

  test('an incomplete character at the end is flushed as U+FFFD (as a full decode shows it)', () => {
    const ids = tok.encode('a🎉', false).slice(0, -1);
    const d = new StreamingDetokenizer(decode);
    let out = ids.map((id) => d.push(id)).join('');
    expect(out).toBe('a');
    out += d.flush();
    expect(out).toBe(tok.decode(ids));
  });
});

describe('StreamingDetokenizer (SentencePiece-style byte fallback, synthetic)', () => {
  // A tiny Metaspace + byte-fallback vocabulary: '▁' is a space, '<0xNN>' tokens are raw bytes, and (like the
  // Metaspace decoder) the leading space of a decoded sequence is dropped.
  const vocab = ['▁Hi', '▁there', '<0xE2>', '<0x82>', '<0xAC>', '!', '▁'];
  const decodeSp = (ids: number[]) => {
    const bytes: number[] = [];
    for (const id of ids) {
      const piece = vocab[id];
      const m = /^<0x([0-9A-F]{2})>$/.exec(piece);
      if (m) bytes.push(parseInt(m[1], 16));
      else bytes.push(...Buffer.from(piece.replace(/▁/g, ' ')));
    }
    return new TextDecoder().decode(new Uint8Array(bytes)).replace(/^ /, '');
  };

  test('a euro sign from three byte tokens, and spaces kept between words', () => {
    const ids = [0, 1, 6, 2, 3, 4, 5];  // "Hi there €!"
    const d = new StreamingDetokenizer(decodeSp);
    const pieces = ids.map((id) => d.push(id));
    expect(pieces).toEqual(['Hi', ' there', ' ', '', '', '€', '!']);
    expect(d.flush()).toBe('');
    expect(d.text).toBe('Hi there €!');
  });
});
