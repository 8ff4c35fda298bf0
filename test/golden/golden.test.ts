// End-to-end against HuggingFace transformers: every golden fixture is built with `llmc build --dtype float32`
// and run through the CLI's verification interface (`--token-ids ... --temperature 0 --ignore-eos --json
// --logits-out FILE`). Prefill and KV-cache decode logits must be within 1e-4 of the reference and greedy tokens
// identical (test/fixtures/golden/README.md gives the tolerances).
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { llmc, tempDir } from '../helpers/cli.js';
import { expectMatchesReference, loadFixture, fixtureNames } from '../helpers/golden.js';
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

  beforeAll(() => {
    const r = llmc(['build', fx.modelDir, '-o', engine, '--dtype', 'float32', '--target', target], { timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
  });

  test.each([0, 1])('prompt %i: prefill + decode logits within 1e-4, greedy tokens identical', (p) => {
    expect(existsSync(join(engine, 'rank0.engine'))).toBe(true);
    expectMatchesReference(fx, engine, p, join(work, `${name}-${p}.f32`), TOL, (args) => llmc(args, { env: runEnv }));
  });
});
