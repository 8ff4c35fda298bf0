// End to end through the CLI with a real compiled engine: the golden llama checkpoint (2 layers, vocab 512),
// built once as is (no tokenizer) and once with a byte-level tokenizer added, so text features can be checked.
// Needs the native addon built (`npm install` does it).
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectCleanError, goldenDir, llmc, tempDir } from '../helpers/cli.js';
import { TextTokenizer } from '../../src/runtime/tokenizer.js';
import { byteTokenizerConfig, byteTokenizerJson } from './byte-tokenizer.js';

const fixture = join(goldenDir, 'llama');
const golden = JSON.parse(readFileSync(join(fixture, 'golden.json'), 'utf8')) as { prompts: number[][]; greedy: { new_tokens: number[] }[] };
const prompt = golden.prompts[0];
const greedy = golden.greedy[0].new_tokens;

function json(r: { code: number; stdout: string; stderr: string }): Record<string, unknown> {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]) as Record<string, unknown>;
}

describe('llmc end to end (golden llama)', () => {
  const work = tempDir('llmc-cli-e2e-');
  const plain = join(work, 'plain');         // no tokenizer
  const texty = join(work, 'texty');         // byte-level tokenizer + chat template
  const tok = new TextTokenizer(byteTokenizerJson(), byteTokenizerConfig());
  let buildOut = '';

  beforeAll(() => {
    let r = llmc(['build', join(fixture, 'model'), '-o', plain, '--dtype', 'float32', '--max-seq-len', '64']);
    if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
    buildOut = r.stdout;
    const hf = join(work, 'hf-with-tokenizer');
    cpSync(join(fixture, 'model'), hf, { recursive: true });
    writeFileSync(join(hf, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
    writeFileSync(join(hf, 'tokenizer_config.json'), JSON.stringify(byteTokenizerConfig()));
    r = llmc(['build', hf, '-o', texty, '--dtype', 'float32', '--max-seq-len', '64']);
    if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
  });

  test('build prints progress and where the engine went', () => {
    expect(buildOut).toContain(plain);
    expect(buildOut).toMatch(/memory plan/);
    expect(existsSync(join(plain, 'rank0.engine'))).toBe(true);
    expect(existsSync(join(texty, 'tokenizer.json'))).toBe(true);
  });

  test('build refuses to overwrite a directory that is not an engine without --force', () => {
    const other = tempDir();
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    expectCleanError(llmc(['build', join(fixture, 'model'), '-o', other]), /not empty; pass --force/);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  test('run --token-ids --json: exactly the documented keys, greedy tokens as transformers', () => {
    const r = llmc(['run', plain, '--token-ids', prompt.join(','), '--max-new-tokens', '8', '--ignore-eos', '--json']);
    expect(r.stderr).toBe('');
    const out = json(r);
    expect(Object.keys(out)).toEqual(['output_ids', 'logits_shape', 'stop_reason', 'prompt_tokens', 'ttft_ms', 'tpot_ms']);
    expect(out.output_ids).toEqual(greedy.slice(0, 8));
    expect(out.logits_shape).toBeNull();
    expect(out.stop_reason).toBe('length');
    expect(out.prompt_tokens).toBe(prompt.length);
    expect(out.ttft_ms).toBeGreaterThan(0);
    expect(out.tpot_ms).toBeGreaterThan(0);
  });

  test('run without --json prints the ids, and a stats line on stderr', () => {
    const r = llmc(['run', plain, '--token-ids', prompt.join(','), '--max-new-tokens', '4', '--ignore-eos']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${greedy.slice(0, 4).join(',')}\n`);
    expect(r.stderr).toMatch(/^\[llmc\] prompt 40 tokens, generated 4 \(stop: length\); TTFT .* TPOT .*\n$/);
  });

  test('--stream without a tokenizer streams the ids', () => {
    const r = llmc(['run', plain, '--token-ids', prompt.join(','), '--max-new-tokens', '4', '--ignore-eos', '--stream']);
    expect(r.stdout).toBe(`${greedy.slice(0, 4).join(',')}\n`);
  });

  test('--prompt without a tokenizer', () => {
    expectCleanError(llmc(['run', plain, '--prompt', 'hello']),
      /^error: this engine has no tokenizer \(tokenizer.json was not in the checkpoint\); pass --token-ids$/);
  });

  test('limits: a prompt longer than max_seq_len fails; max_new_tokens is capped to fit', () => {
    const long = Array.from({ length: 65 }, (_, i) => 3 + i);
    expectCleanError(llmc(['run', plain, '--token-ids', long.join(','), '--json']), /max_seq_len is 64/);
    const r = llmc(['run', plain, '--token-ids', long.slice(0, 60).join(','), '--max-new-tokens', '10', '--ignore-eos']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(',')).toHaveLength(4);
    expect(r.stderr).toMatch(/--max-new-tokens capped at 4 by max_seq_len/);
  });

  test('--logits-out writes [prompt + generated - 1, vocab] float32', () => {
    const file = join(work, 'logits.f32');
    const out = json(llmc(['run', plain, '--token-ids', prompt.join(','), '--max-new-tokens', '5', '--ignore-eos', '--json', '--logits-out', file]));
    expect(out.logits_shape).toEqual([prompt.length + 4, 512]);
    expect(statSync(file).size).toBe((prompt.length + 4) * 512 * 4);
  });

  describe('with a tokenizer', () => {
    const base = (extra: string[]) => ['run', texty, '--prompt', 'Hello, world', '--max-new-tokens', '24', '--ignore-eos', ...extra];
    let full: { text: string; output_ids: number[] };

    beforeAll(() => {
      full = json(llmc(base(['--json']))) as typeof full;
    });

    test('--json has text, equal to decoding the output ids', () => {
      expect(typeof full.text).toBe('string');
      expect(full.output_ids).toHaveLength(24);
      expect(full.text).toBe(tok.decode(full.output_ids));
    });

    test('--prompt is tokenized with the engine tokenizer', () => {
      const out = json(llmc(base(['--json'])));
      expect(out.prompt_tokens).toBe(Buffer.byteLength('Hello, world'));
    });

    test('--stream prints the same text as it goes', () => {
      const r = llmc(base(['--stream']));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${full.text}\n`);
    });

    test('--stop truncates the text before the stop string and stops generating', () => {
      const chars = [...full.text];
      let i = 2;
      while (i < chars.length - 1 && (chars[i] === '\uFFFD' || chars[i + 1] === '\uFFFD')) i++;
      const stop = chars[i] + chars[i + 1];
      const expected = full.text.slice(0, full.text.indexOf(stop));
      const file = join(work, 'stop-logits.f32');
      const out = json(llmc(base(['--json', '--stop', stop, '--stop', 'never-there', '--logits-out', file])));
      expect(out.stop_reason).toBe('stop_string');
      expect(out.text).toBe(expected);
      const ids = out.output_ids as number[];
      expect(ids.length).toBeLessThan(24);
      expect(full.output_ids.slice(0, ids.length)).toEqual(ids);
      expect(tok.decode(ids)).toContain(stop);
      const rows = (out.prompt_tokens as number) + ids.length - 1;
      expect(out.logits_shape).toEqual([rows, 512]);
      expect(statSync(file).size).toBe(rows * 512 * 4);
    });

    test('--chat renders the chat template', () => {
      const out = json(llmc(['run', texty, '--prompt', 'Hi', '--chat', '--max-new-tokens', '2', '--ignore-eos', '--json']));
      expect(out.prompt_tokens).toBe(Buffer.byteLength('user: Hi\nassistant:'));
    });

    test('eval: perplexity over windows', () => {
      const textFile = join(work, 'text.txt');
      writeFileSync(textFile, 'In the beginning was the word. '.repeat(8));
      const out = json(llmc(['eval', texty, '--text', textFile, '--ctx', '32', '--json']));
      const tokens = 31 * 8;
      expect(out.tokens).toBe(tokens);
      expect(out.windows).toBe(Math.ceil(tokens / 32));
      expect(out.scored_tokens).toBe(tokens - Math.ceil(tokens / 32));
      expect(out.perplexity).toBeGreaterThan(1);
      expect(Number.isFinite(out.perplexity)).toBe(true);
    });
  });

  test('inspect: plan and memory plan', () => {
    const out = json(llmc(['inspect', plain, '--json']));
    const plan = out.plan as { layers: number; nodes_per_op: Record<string, number>; layers_identical: boolean };
    expect(plan.layers).toBe(2);
    expect(plan.layers_identical).toBe(true);
    expect(plan.nodes_per_op.attention).toBe(2);
    expect(out.memory_plan).toBeTruthy();
    const text = llmc(['inspect', plain]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/memory plan/);
  });

  test('bench --json', () => {
    const out = json(llmc(['bench', plain, '--prompt-len', '16', '--gen-len', '8', '--json']));
    expect(out.generated_tokens).toBe(8);
    expect(out.decode_tok_s).toBeGreaterThan(0);
    expect(out.prefill_tok_s).toBeGreaterThan(0);
    expect(out.measured_gb_s).toBeGreaterThan(0);
    expect(Number.isFinite(out.mbu_percent)).toBe(true);
  });
});
