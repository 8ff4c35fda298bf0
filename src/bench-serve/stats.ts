// Summary figures of one benchmark run: percentiles of TTFT / TPOT / ITL / end-to-end latency and throughputs.
import type { RequestTiming } from './client.js';

export interface Percentiles {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface RunSummary {
  batching: string;
  concurrency: number;
  rate: number | null;
  requests: number;
  failed: number;
  durationS: number;
  requestsPerS: number;
  outputTokensPerS: number;
  totalTokensPerS: number;
  ttftMs: Percentiles;
  tpotMs: Percentiles;
  itlMs: Percentiles;
  e2eMs: Percentiles;
}

/** Nearest-rank percentiles (p in [0, 100]). NaN for an empty list. */
export function percentiles(xs: number[]): Percentiles {
  if (xs.length === 0) return { mean: NaN, p50: NaN, p90: NaN, p99: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: at(50), p90: at(90), p99: at(99) };
}

export function summarize(batching: string, concurrency: number, rate: number | null, timings: RequestTiming[], durationS: number): RunSummary {
  const ok = timings.filter((t) => t.ok);
  const out = ok.reduce((a, t) => a + t.outputTokens, 0);
  const prompt = ok.reduce((a, t) => a + t.promptTokens, 0);
  return {
    batching, concurrency, rate, requests: timings.length, failed: timings.length - ok.length, durationS,
    requestsPerS: ok.length / durationS,
    outputTokensPerS: out / durationS,
    totalTokensPerS: (out + prompt) / durationS,
    ttftMs: percentiles(ok.map((t) => t.ttftMs)),
    tpotMs: percentiles(ok.flatMap((t) => (t.tpotMs === null ? [] : [t.tpotMs]))),
    itlMs: percentiles(ok.flatMap((t) => t.itlMs)),
    e2eMs: percentiles(ok.map((t) => t.e2eMs)),
  };
}

const CSV_COLUMNS = ['batching', 'concurrency', 'rate', 'requests', 'failed', 'duration_s', 'requests_per_s', 'output_tokens_per_s', 'total_tokens_per_s',
  ...['ttft', 'tpot', 'itl', 'e2e'].flatMap((m) => ['mean', 'p50', 'p90', 'p99'].map((p) => `${m}_${p}_ms`))];

export function toCsv(rows: RunSummary[]): string {
  const f = (x: number) => (Number.isFinite(x) ? String(Math.round(x * 1000) / 1000) : '');
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const lat = [r.ttftMs, r.tpotMs, r.itlMs, r.e2eMs].flatMap((p) => [p.mean, p.p50, p.p90, p.p99].map(f));
    lines.push([r.batching, r.concurrency, r.rate ?? '', r.requests, r.failed, f(r.durationS), f(r.requestsPerS), f(r.outputTokensPerS), f(r.totalTokensPerS), ...lat].join(','));
  }
  return lines.join('\n') + '\n';
}
