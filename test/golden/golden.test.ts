// End-to-end against HuggingFace transformers: every golden fixture is built with `llmc build --dtype float32`
// and run through the CLI's verification interface (`--token-ids ... --temperature 0 --ignore-eos --json
// --logits-out FILE`). Prefill and KV-cache decode logits must be within 1e-4 of the reference and greedy tokens
// identical (test/fixtures/golden/README.md gives the tolerances).
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { llmc, tempDir } from '../helpers/cli.js';
import { loadFixture, readF32, maxAbsDiffRows, fixtureNames } from '../helpers/golden.js';
import { GOLDEN_FIXTURES } from './fixtures.js';

const TOL = 1e-4;
const work = tempDir('llmc-golden-');
// LLMC_GOLDEN_TARGET=cuda (on a GPU machine) builds --target cuda engines, which run on the CUDA backend
// (docs/cuda.md, "Runtime backend"); its load summary on stderr is silenced so the stderr check still holds.
const target = process.env.LLMC_GOLDEN_TARGET === 'cuda' ? 'cuda' : 'cpu';
const runEnv = target === 'cuda' ? { LLMC_CUDA_QUIET: '1' } : {};

test('every fixture in the golden index is covered by the suite', () => {
  expect(fixtureNames().filter((n) => !GOLDEN_FIXTURES.includes(n))).toEqual([]);
});

describe.each(GOLDEN_FIXTURES)('golden %s', (name) => {
  const fx = loadFixture(name);
  const engine = join(work, name);
  const vocab = fx.json.vocab_size;

  beforeAll(() => {
    const r = llmc(['build', fx.modelDir, '-o', engine, '--dtype', 'float32', '--target', target], { timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
  });

  test.each([0, 1])('prompt %i: prefill + decode logits within 1e-4, greedy tokens identical', (p) => {
    expect(existsSync(join(engine, 'rank0.engine'))).toBe(true);
    const prompt = fx.json.prompts[p];
    const want = fx.json.greedy[p].new_tokens;
    const logitsFile = join(work, `${name}-${p}.f32`);
    const r = llmc(['run', engine, '--token-ids', prompt.join(','), '--max-new-tokens', String(want.length),
      '--temperature', '0', '--ignore-eos', '--json', '--logits-out', logitsFile], { env: runEnv });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const rows = prompt.length + want.length - 1;
    expect(out.logits_shape).toEqual([rows, vocab]);
    const got = readF32(logitsFile);
    expect(got.length).toBe(rows * vocab);

    const prefill = readF32(join(fx.dir, fx.json.prefill[p].file));
    expect(maxAbsDiffRows(got, 0, prefill, 0, prompt.length, vocab)).toBeLessThanOrEqual(TOL);
    if (p === 0) {
      // decode_0 row k = what greedy token k was drawn from: our row prompt_len - 1 + k.
      const decode = readF32(join(fx.dir, fx.json.decode.file));
      expect(maxAbsDiffRows(got, prompt.length - 1, decode, 0, fx.json.decode.shape[0], vocab)).toBeLessThanOrEqual(TOL);
    }
    expect(out.output_ids).toEqual(want);
  });
});
