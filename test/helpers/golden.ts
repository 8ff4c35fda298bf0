// Reads the HF-transformers golden fixtures (test/fixtures/golden, a verbatim copy of ../shared/golden).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenDir } from './cli.js';

export interface GoldenFixture {
  name: string;
  dir: string;
  modelDir: string;
  json: {
    architectures: string[];
    vocab_size: number;
    prompts: number[][];
    prefill: { file: string; shape: [number, number] }[];
    greedy: { new_tokens: number[]; top1_minus_top2_margins: number[] }[];
    decode: { file: string; shape: [number, number] };
    weights_dtype: string;
  };
}

/** test/fixtures/golden-quant: the pre-quantized checkpoints (a verbatim copy of ../shared/golden-quant). */
export const goldenQuantDir = join(goldenDir, '..', 'golden-quant');

export function loadFixture(name: string, base = goldenDir): GoldenFixture {
  const dir = join(base, name);
  const json = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
  return { name, dir, modelDir: join(dir, 'model'), json };
}

export function fixtureNames(base = goldenDir): string[] {
  const index = JSON.parse(readFileSync(join(base, 'index.json'), 'utf8'));
  return index.fixtures.map((f: { name: string }) => f.name);
}

export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Max |a - b| over rows [rowA0, rowA0+n) of a and [rowB0, rowB0+n) of b, both [*, vocab]. */
export function maxAbsDiffRows(a: Float32Array, rowA0: number, b: Float32Array, rowB0: number, n: number, vocab: number): number {
  let m = 0;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < vocab; j++) {
      const d = Math.abs(a[(rowA0 + r) * vocab + j] - b[(rowB0 + r) * vocab + j]);
      if (!(d <= m)) m = Number.isNaN(d) ? Infinity : Math.max(m, d);
    }
  }
  return m;
}

/**
 * Runs prompt p of a fixture through `llmc run` (the verification interface: greedy, EOS ignored, logits out) and
 * checks it against the reference: prefill rows and (prompt 0) the KV-cache decode rows within tol, greedy tokens
 * identical. `run` is the CLI runner (test/helpers/cli.ts llmc), passed in to keep this file free of process code.
 */
export function expectMatchesReference(fx: GoldenFixture, engine: string, p: number, logitsFile: string, tol: number,
  run: (args: string[]) => { code: number; stdout: string; stderr: string }): void {
  const vocab = fx.json.vocab_size;
  const prompt = fx.json.prompts[p];
  const want = fx.json.greedy[p].new_tokens;
  const r = run(['run', engine, '--token-ids', prompt.join(','), '--max-new-tokens', String(want.length),
    '--temperature', '0', '--ignore-eos', '--json', '--logits-out', logitsFile]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  const rows = prompt.length + want.length - 1;
  expect(out.logits_shape).toEqual([rows, vocab]);
  const got = readF32(logitsFile);
  expect(got.length).toBe(rows * vocab);
  const prefill = readF32(join(fx.dir, fx.json.prefill[p].file));
  expect(maxAbsDiffRows(got, 0, prefill, 0, prompt.length, vocab)).toBeLessThanOrEqual(tol);
  if (p === 0) {
    // decode_0 row k = what greedy token k was drawn from: our row prompt_len - 1 + k.
    const decode = readF32(join(fx.dir, fx.json.decode.file));
    expect(maxAbsDiffRows(got, prompt.length - 1, decode, 0, fx.json.decode.shape[0], vocab)).toBeLessThanOrEqual(tol);
  }
  expect(out.output_ids).toEqual(want);
}
