// llmc verify --reference-dumps: an engine against activation dumps another tool wrote in llmc's layout. The
// suite has no Python packages, so the dumps are made here from a golden fixture's own HF reference numbers
// (decode_0.logits.f32: the logits of the prefill step and of 7 KV-cache decode steps for prompt 0, and the
// greedy tokens), exactly as scripts/hf-dump.py writes them (index.tsv, stepNNNN.logits.f32, prompts.json).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectCleanError, llmc, repoRoot, tempDir } from '../helpers/cli.js';
import { loadFixture, type GoldenFixture } from '../helpers/golden.js';

const work = tempDir('llmc-refdumps-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The fixture's decode logits as a dump: step k = row k ([1, vocab]), greedy tokens in prompts.json. */
function dumpsFromFixture(fx: GoldenFixture, dir: string, edit?: (step: number, row: Float32Array) => void): void {
  mkdirSync(dir, { recursive: true });
  const [rows, vocab] = fx.json.decode.shape;
  const all = readFileSync(join(fx.dir, fx.json.decode.file));
  const lines = ['step\top\tvalue\trows\twidth\tfile'];
  for (let k = 0; k < rows; k++) {
    const row = new Float32Array(all.buffer.slice(all.byteOffset + k * vocab * 4, all.byteOffset + (k + 1) * vocab * 4));
    edit?.(k, row);
    const file = `step${String(k).padStart(4, '0')}.logits.f32`;
    writeFileSync(join(dir, file), Buffer.from(row.buffer));
    lines.push(`${k}\thf\tlogits\t1\t${vocab}\t${file}`);
  }
  writeFileSync(join(dir, 'index.tsv'), `${lines.join('\n')}\n`);
  const tokens = fx.json.greedy[0].new_tokens.slice(0, rows);
  writeFileSync(join(dir, 'prompts.json'), JSON.stringify({ prompts: [fx.json.prompts[0]], max_new_tokens: rows, tokens: [tokens], token_steps: [tokens.map((_, i) => i)] }));
}

for (const name of ['llama', 'gpt2', 'falcon_mqa']) {
  test(`${name}: a float32 engine matches the HF dumps of its fixture (prefill + 7 decode steps)`, () => {
    const fx = loadFixture(name);
    const engine = join(work, name), dumps = join(work, `${name}-dumps`);
    expect(llmc(['build', fx.modelDir, '-o', engine, '--dtype', 'float32']).code).toBe(0);
    dumpsFromFixture(fx, dumps);
    const r = llmc(['verify', engine, '--reference-dumps', dumps, '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep).toMatchObject({ ok: true, prompts: 1, max_new_tokens: 8, steps: 8, steps_compared: 8, tokens_agree: true, values_compared: 1 });
    expect(rep.values.find((v: { value: string }) => v.value === 'logits').max_abs).toBeLessThan(1e-4);
  });
}

test('a pre-quantized (GPTQ int4) engine against the HF dumps of its fixture; its float reference is refused plainly', () => {
  const fx = loadFixture('gptq_int4_g32_sym', join(repoRoot, 'test', 'fixtures', 'golden-quant'));
  const engine = join(work, 'gptq'), dumps = join(work, 'gptq-dumps');
  expect(llmc(['build', fx.modelDir, '-o', engine]).code).toBe(0);
  dumpsFromFixture(fx, dumps);
  // HF's numbers are the dequantized model's, so the engine is held to float32 closeness, not the int4 budget.
  const r = llmc(['verify', engine, '--reference-dumps', dumps, '--json', '--tolerance', '1e-4']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, steps_compared: 8, tokens_agree: true });
  expectCleanError(llmc(['verify', engine]), /is a pre-quantized checkpoint \(gptq int4 g32.*\): it has no float weights to build a float32 reference from/);
});

test('a reference dump that differs at one decode step: verify names logits at that step', () => {
  const fx = loadFixture('llama');
  const dumps = join(work, 'bad-dumps');
  dumpsFromFixture(fx, dumps, (step, row) => { if (step === 3) row[7] += 0.5; });
  const r = llmc(['verify', join(work, 'llama'), '--reference-dumps', dumps]);
  expect(r.code).toBe(3);
  expect(r.stdout).toMatch(/FAIL: first value past 0.0001: logits, layer logits, step 3, node logits \(linear\)/);
  expect(r.stdout).toMatch(/worst at step 3, row 0, column 7/);
  expect(r.stdout).toMatch(/not compared \(no reference value\): embed, l0.attn_norm, .*more\)/);
});

test('bad reference dumps: missing prompts.json, missing index, several prompts, a missing file', () => {
  const dir = join(work, 'broken');
  dumpsFromFixture(loadFixture('llama'), dir);
  const engine = join(work, 'llama');
  const pj = readFileSync(join(dir, 'prompts.json'), 'utf8');
  rmSync(join(dir, 'prompts.json'));
  expectCleanError(llmc(['verify', engine, '--reference-dumps', dir]), /has no prompts.json .*; write it with scripts\/hf-dump.py/);
  const two = JSON.parse(pj);
  two.prompts.push([1, 2, 3]);
  writeFileSync(join(dir, 'prompts.json'), JSON.stringify(two));
  expectCleanError(llmc(['verify', engine, '--reference-dumps', dir]), /must hold one prompt/);
  writeFileSync(join(dir, 'prompts.json'), pj);
  rmSync(join(dir, 'step0002.logits.f32'));
  expectCleanError(llmc(['verify', engine, '--reference-dumps', dir]), /dump file .*step0002.logits.f32 \(listed in index.tsv\) is missing/);
  rmSync(join(dir, 'index.tsv'));
  expectCleanError(llmc(['verify', engine, '--reference-dumps', dir]), /has no index.tsv/);
  expectCleanError(llmc(['verify', engine, '--reference-dumps', dir, '--reference', loadFixture('llama').modelDir]), /not both/);
});

test('scripts/hf-dump.py without torch: one line that says what to install', () => {
  const py = spawnSync('python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (py.error) return;                                 // no python3: the script is optional
  const r = spawnSync('python3', [join(repoRoot, 'scripts', 'hf-dump.py'), 'x', '--token-ids', '1', '--out', join(work, 'x')], { encoding: 'utf8' });
  if (py.status === 0) return;                          // torch present: the script would really run
  expect(r.status).toBe(1);
  expect(r.stderr.trim()).toMatch(/^error: torch is not installed; pip install torch transformers/);
});
