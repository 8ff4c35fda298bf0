// Every flag's validation, through the real CLI (node bin/llmc.js): non-zero exit, one `error:` line, no stack.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expectCleanError, llmc, repoRoot, tempDir } from '../helpers/cli.js';
import { fakeEngine } from './fake-engine.js';

const built = existsSync(join(repoRoot, 'dist', 'cli', 'main.js'));
if (!built) throw new Error('dist/cli/main.js is missing: run `npm install` (or `npm run build:ts`) before the CLI tests');

const engine = fakeEngine();

describe('usage errors (exit 2)', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown verb', ['frobnicate'], /unknown command 'frobnicate'/],
    ['unknown flag with suggestion', ['run', engine, '--top_k', '3'], /unknown option '--top_k'.*--top-k/],
    ['run: missing engine', ['run'], /missing required argument 'engine_dir'/],
    ['run: extra argument', ['run', engine, 'extra', '--token-ids', '1'], /too many arguments/],
    ['run: neither prompt nor ids', ['run', engine], /exactly one of --prompt TEXT or --token-ids IDS/],
    ['run: both prompt and ids', ['run', engine, '--prompt', 'hi', '--token-ids', '1'], /exactly one of/],
    ['run: --max-new-tokens -3', ['run', engine, '--token-ids', '1', '--max-new-tokens', '-3'], /--max-new-tokens.*'-3'.*integer >= 0/],
    ['run: --max-new-tokens 2.5', ['run', engine, '--token-ids', '1', '--max-new-tokens', '2.5'], /--max-new-tokens.*integer >= 0/],
    ['run: --max-new-tokens abc', ['run', engine, '--token-ids', '1', '--max-new-tokens', 'abc'], /--max-new-tokens.*integer >= 0/],
    ['run: --temperature -1', ['run', engine, '--token-ids', '1', '--temperature', '-1'], /--temperature.*'-1'.*>= 0/],
    ['run: --temperature nan', ['run', engine, '--token-ids', '1', '--temperature', 'NaN'], /--temperature.*>= 0/],
    ['run: --top-k -1', ['run', engine, '--token-ids', '1', '--top-k', '-1'], /--top-k.*integer >= 0/],
    ['run: --top-k 1.5', ['run', engine, '--token-ids', '1', '--top-k', '1.5'], /--top-k.*integer >= 0/],
    ['run: --top-p 1.5', ['run', engine, '--token-ids', '1', '--top-p', '1.5'], /--top-p.*'1.5'.*\(0, 1\]/],
    ['run: --top-p 0', ['run', engine, '--token-ids', '1', '--top-p', '0'], /--top-p.*\(0, 1\]/],
    ['run: --repetition-penalty 0', ['run', engine, '--token-ids', '1', '--repetition-penalty', '0'], /--repetition-penalty.*> 0/],
    ['run: --repetition-penalty -2', ['run', engine, '--token-ids', '1', '--repetition-penalty', '-2'], /--repetition-penalty.*> 0/],
    ['run: --seed -1', ['run', engine, '--token-ids', '1', '--seed', '-1'], /--seed.*\[0, 2\^53\)/],
    ['run: --seed 1.5', ['run', engine, '--token-ids', '1', '--seed', '1.5'], /--seed.*integer/],
    ['run: --seed 2^53', ['run', engine, '--token-ids', '1', '--seed', '9007199254740993'], /--seed/],
    ['run: --threads 0', ['run', engine, '--token-ids', '1', '--threads', '0'], /--threads.*integer in \[1, 4096\]/],
    ['run: --token-ids 1,a', ['run', engine, '--token-ids', '1,a'], /--token-ids.*comma-separated token ids/],
    ['run: --token-ids -1', ['run', engine, '--token-ids=-1'], /--token-ids.*comma-separated/],
    ['run: --token-ids empty', ['run', engine, '--token-ids', ','], /--token-ids.*comma-separated/],
    ['run: --stream with --json', ['run', engine, '--token-ids', '1', '--stream', '--json'], /--stream and --json/],
    ['run: --chat with --token-ids', ['run', engine, '--token-ids', '1', '--chat'], /--chat needs --prompt/],
    ['build: missing -o', ['build', 'somewhere'], /required option '-o, --output/],
    ['build: --dtype int3', ['build', 'x', '-o', 'y', '--dtype', 'int3'], /--dtype.*'int3'.*float32, float16, bfloat16/],
    ['build: --max-batch-size 0', ['build', 'x', '-o', 'y', '--max-batch-size', '0'], /--max-batch-size.*\[1, 4096\]/],
    ['build: --max-seq-len -5', ['build', 'x', '-o', 'y', '--max-seq-len', '-5'], /--max-seq-len.*integer/],
    ['build: --max-num-tokens x', ['build', 'x', '-o', 'y', '--max-num-tokens', 'x'], /--max-num-tokens.*integer/],
    ['bench: --gen-len 1', ['bench', engine, '--gen-len', '1'], /--gen-len.*\[2,/],
    ['bench: --prompt-len 0', ['bench', engine, '--prompt-len', '0'], /--prompt-len.*\[1,/],
    ['eval: missing --text', ['eval', engine], /required option '--text <file>'/],
    ['eval: --ctx 1', ['eval', engine, '--text', 'f', '--ctx', '1'], /--ctx.*\[2,/],
    ['inspect: unknown flag', ['inspect', engine, '--onx', 'f'], /unknown option '--onx'/],
  ];
  test.each(cases)('%s', (_name, args, pattern) => {
    const r = llmc(args);
    expectCleanError(r, pattern);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});

describe('errors found before the native runtime is needed (exit 1)', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['run: engine dir missing', () => ['run', '/nonexistent/engine', '--token-ids', '1'], /engine directory \/nonexistent\/engine does not exist/],
    ['run: not an engine', () => ['run', tempDir(), '--token-ids', '1'], /is not an llmc engine \(no config.json\).*llmc build/],
    ['run: HF checkpoint instead of engine', () => ['run', join(repoRoot, 'test', 'fixtures', 'golden', 'llama', 'model'), '--token-ids', '1'],
      /HuggingFace checkpoint, not an llmc engine.*llmc build/],
    ['run: old format version', () => ['run', fakeEngine({ manifest: { format_version: 99 } }), '--token-ids', '1'],
      /engine format 99.*rebuild it: `llmc build \/models\/tiny -o .* --force`/],
    ['run: other op schema', () => ['run', fakeEngine({ manifest: { schema_hash: 'deadbeefdeadbeef' } }), '--token-ids', '1'],
      /op schema deadbeefdeadbeef.*rebuild it/],
    ['run: --prompt without tokenizer', () => ['run', fakeEngine(), '--prompt', 'hello'],
      /^error: this engine has no tokenizer \(tokenizer.json was not in the checkpoint\); pass --token-ids$/],
    ['run: prompt longer than max_seq_len', () => ['run', fakeEngine({ maxSeqLen: 4 }), '--token-ids', '1,2,3,4,5'],
      /5 tokens but this engine's max_seq_len is 4/],
    ['run: token id outside vocab', () => ['run', fakeEngine({ vocabSize: 100 }), '--token-ids', '1,100'],
      /token id 100 .* outside the vocabulary \[0, 100\)/],
    ['run: --logits-out into a missing dir', () => ['run', fakeEngine(), '--token-ids', '1', '--logits-out', '/nonexistent/dir/l.f32'],
      /--logits-out: directory \/nonexistent\/dir does not exist/],
    ['build: checkpoint dir missing', () => ['build', '/nonexistent/hf', '-o', join(tempDir(), 'e')], /checkpoint directory \/nonexistent\/hf does not exist/],
    ['bench: lengths over max_seq_len', () => ['bench', fakeEngine({ maxSeqLen: 64 }), '--prompt-len', '60', '--gen-len', '8'],
      /--prompt-len 60 \+ --gen-len 8 exceeds this engine's max_seq_len 64/],
    ['eval: text file missing', () => ['eval', fakeEngine(), '--text', '/nonexistent.txt'], /--text: \/nonexistent.txt is not a file/],
    ['eval: --ctx over max_seq_len', () => ['eval', fakeEngine({ maxSeqLen: 64 }), '--text', join(repoRoot, 'package.json'), '--ctx', '128'],
      /--ctx 128 exceeds this engine's max_seq_len 64/],
  ];
  test.each(cases)('%s', (_name, args, pattern) => {
    const r = llmc(args());
    expectCleanError(r, pattern);
    expect(r.code).toBe(1);
  });

  test('a missing native addon says how to build it', () => {
    const saved = process.env.LLMC_ADDON;
    process.env.LLMC_ADDON = '/nonexistent/llmc.node';
    try {
      const r = llmc(['run', fakeEngine(), '--token-ids', '1,2']);
      expectCleanError(r, /native addon not built: run `npm run build:native`/);
    } finally {
      if (saved === undefined) delete process.env.LLMC_ADDON;
      else process.env.LLMC_ADDON = saved;
    }
  });
});

describe('help', () => {
  test.each(['build', 'run', 'inspect', 'bench', 'eval'])('llmc %s --help exits 0 and documents its flags', (verb) => {
    const r = llmc([verb, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: llmc ${verb}`);
    expect(r.stderr).toBe('');
  });

  test('run --help documents the greedy default', () => {
    expect(llmc(['run', '--help']).stdout).toMatch(/greedy\s+\(--temperature\s+0\)\s+unless\s+--temperature\s+is\s+given/);
  });
});
