// The bundled example model (examples/kjv-tiny): its own tokenizer round-trips, generation stops on a stop string,
// streaming prints the same text in the same order, and `llmc eval` reproduces the held-out perplexity the
// training script recorded (examples/kjv-tiny/README.md) within 0.5 %.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { llmc, repoRoot, tempDir } from '../helpers/cli.js';
import { TextTokenizer } from '../../src/runtime/tokenizer.js';

const model = join(repoRoot, 'examples', 'kjv-tiny');
const engine = join(tempDir('llmc-kjv-'), 'kjv');

beforeAll(() => {
  const r = llmc(['build', model, '-o', engine]);
  if (r.code !== 0) throw new Error(r.stderr);
});

describe('tokenizer round trip', () => {
  const tok = TextTokenizer.load(model)!;
  const verse = readFileSync(join(model, 'heldout-excerpt.txt'), 'utf8').split('\n').slice(0, 4).join('\n');
  test.each([
    ['corpus text', verse],
    ['empty string', ''],
    ['emoji', 'Let there be light 💡👨‍👩‍👧 amen 🙏'],
    ['Korean', '태초에 하나님이 천지를 창조하시니라'],
    ['whitespace and digits', '  verse\t3:16\n\n  1234567890 '],
  ])('%s', (_name, text) => {
    const ids = tok.encode(text, false);
    expect(tok.decode(ids)).toBe(text);
  });
  test('corpus text compresses (merges are used) and BOS is added once when asked', () => {
    const ids = tok.encode(verse, false);
    expect(ids.length).toBeLessThan(Buffer.byteLength(verse) / 2.5);
    expect(tok.encode(verse, true)).toEqual([tok.bosTokenId, ...ids]);
  });
});

test('a stop string ends generation and is cut from the text', () => {
  const base = ['run', engine, '--prompt', 'And God said', '--max-new-tokens', '48', '--json'];
  const free = JSON.parse(llmc(base).stdout);
  const stop = 'LORD';
  expect(free.text).toContain(stop);               // greedy text reaches the stop string...
  const r = llmc([...base, '--stop', stop]);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.stop_reason).toBe('stop_string');
  expect(out.text).toBe(free.text.slice(0, free.text.indexOf(stop)));   // ...and stops right before it
  expect(out.output_ids.length).toBeLessThan(free.output_ids.length);
});

test('--stream prints the same continuation, in order, as the non-streamed run', () => {
  const args = ['run', engine, '--prompt', 'In the beginning', '--max-new-tokens', '32', '--temperature', '0.8', '--top-k', '40', '--seed', '11'];
  const json = JSON.parse(llmc([...args, '--json']).stdout);
  const streamed = llmc([...args, '--stream']);
  expect(streamed.code).toBe(0);
  expect(streamed.stdout.replace(/\n$/, '')).toBe(json.text);
});

test('llmc eval reproduces the recorded held-out perplexity within 0.5 %', () => {
  const readme = readFileSync(join(model, 'README.md'), 'utf8');
  const recorded = Number(/heldout-excerpt\.txt \| ([\d.]+) \|/.exec(readme)![1]);
  const r = llmc(['eval', engine, '--text', join(model, 'heldout-excerpt.txt'), '--ctx', '256', '--json']);
  expect(r.code).toBe(0);
  const ppl = JSON.parse(r.stdout).perplexity;
  expect(Math.abs(ppl - recorded) / recorded).toBeLessThan(0.005);
});
