// llmc bench-serve on the example model (small workload): every batching mode and concurrency gets a row in the
// JSON and the CSV, latency percentiles are ordered, no request failed, and the plot is an SVG; bad flags are
// one-line errors. Speed is not asserted here (docs/serving.md has the figures).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectCleanError, llmc, tempDir } from '../helpers/cli.js';
import { percentiles } from '../../src/bench-serve/stats.js';
import { makeWorkload } from '../../src/bench-serve/workload.js';
import { buildKjvEngine } from './helpers.js';

let engineDir: string;
beforeAll(() => {
  engineDir = buildKjvEngine(['--max-batch-size', '8', '--max-seq-len', '128']);
});

test('all three batching modes at two concurrencies: JSON, CSV, SVG', () => {
  const out = join(tempDir('llmc-bench-serve-'), 'report');
  const r = llmc(['bench-serve', engineDir, '--concurrency', '1,4', '--requests', '8', '--input-len', '4:24', '--output-len', '2:8',
    '--batching', 'all', '--out', out, '--threads', '1'], { timeoutMs: 120_000 });
  expect(r.code).toBe(0);
  const report = JSON.parse(readFileSync(join(out, 'bench-serve.json'), 'utf8'));
  expect(report.runs.map((x: { batching: string; concurrency: number }) => `${x.batching}/${x.concurrency}`))
    .toEqual(['inflight/1', 'inflight/4', 'dynamic/1', 'dynamic/4', 'static/1', 'static/4']);
  for (const run of report.runs) {
    expect(run.failed).toBe(0);
    expect(run.requests).toBe(8);
    expect(run.outputTokensPerS).toBeGreaterThan(0);
    for (const m of ['ttftMs', 'e2eMs', 'tpotMs']) {
      expect(run[m].p50).toBeLessThanOrEqual(run[m].p90);
      expect(run[m].p90).toBeLessThanOrEqual(run[m].p99);
    }
    expect(run.ttftMs.p50).toBeLessThanOrEqual(run.e2eMs.p50);
  }
  const csv = readFileSync(join(out, 'bench-serve.csv'), 'utf8').trim().split('\n');
  expect(csv).toHaveLength(7);
  expect(csv[0]).toMatch(/^batching,concurrency,rate,.*ttft_p99_ms/);
  const svg = readFileSync(join(out, 'latency-throughput.svg'), 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('output tokens/s');
  expect(r.stderr).toMatch(/static\s+4/);
}, 180_000);

test('bad flags are one-line errors', () => {
  const out = tempDir('llmc-bench-serve-bad-');
  expectCleanError(llmc(['bench-serve', engineDir, '--input-len', '100:120', '--output-len', '50', '--out', out]), /exceeds this engine's max_seq_len 128/);
  expectCleanError(llmc(['bench-serve', engineDir, '--batching', 'turbo', '--out', out]), /--batching/);
  expectCleanError(llmc(['bench-serve', engineDir, '--input-len', '9:3', '--out', out]), /MIN:MAX/);
  expectCleanError(llmc(['bench-serve', engineDir, '--output-dist', 'zipf', '--out', out]), /uniform or log-uniform/);
  expect(existsSync(join(out, 'bench-serve.json'))).toBe(false);
});

test('workload and percentiles', () => {
  const a = makeWorkload(50, { min: 3, max: 5 }, { min: 1, max: 2 }, 100, 1, 10);
  expect(makeWorkload(50, { min: 3, max: 5 }, { min: 1, max: 2 }, 100, 1, 10)).toEqual(a);  // seeded
  expect(a.every((w) => w.prompt.length >= 3 && w.prompt.length <= 5 && w.prompt.every((t) => t >= 16 && t < 100))).toBe(true);
  expect(a.every((w, i) => i === 0 || w.arrivalMs >= a[i - 1].arrivalMs)).toBe(true);
  const meanGap = a[a.length - 1].arrivalMs / a.length;
  expect(meanGap).toBeGreaterThan(50);   // about 100 ms at 10 requests/s
  expect(meanGap).toBeLessThan(200);
  const lens = makeWorkload(2000, { min: 1, max: 1 }, { min: 8, max: 511 }, 100, 2, undefined, 'log-uniform').map((w) => w.maxTokens);
  expect(Math.min(...lens)).toBeGreaterThanOrEqual(8);
  expect(Math.max(...lens)).toBeLessThanOrEqual(511);
  const share = (lo: number, hi: number) => lens.filter((x) => x >= lo && x < hi).length / lens.length;
  expect(share(8, 64)).toBeGreaterThan(0.45);  // each doubling equally likely: 3 of the 6 doublings
  expect(share(8, 64)).toBeLessThan(0.55);
  expect(share(256, 512)).toBeGreaterThan(0.1);  // one doubling in six
  expect(share(256, 512)).toBeLessThan(0.23);
  expect(percentiles([5, 1, 4, 2, 3])).toEqual({ mean: 3, p50: 3, p90: 5, p99: 5 });
});
