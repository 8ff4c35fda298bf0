// The latency-throughput plot of a benchmark: output tokens/s (x) against p99 TTFT and mean TPOT (y), one line per
// batching mode, one point per concurrency. Drawn with vega-lite, rendered to SVG by vega in Node (no browser).
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { RunSummary } from './stats.js';

export async function latencyThroughputSvg(rows: RunSummary[], title: string): Promise<string> {
  const values = rows.flatMap((r) => [
    { batching: r.batching, concurrency: r.concurrency, throughput: r.outputTokensPerS, metric: 'p99 TTFT (ms)', latency: r.ttftMs.p99 },
    { batching: r.batching, concurrency: r.concurrency, throughput: r.outputTokensPerS, metric: 'mean TPOT (ms)', latency: r.tpotMs.mean },
  ]).filter((v) => Number.isFinite(v.latency));
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 320,
      height: 240,
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'throughput', type: 'quantitative', title: 'output tokens/s' },
            y: { field: 'latency', type: 'quantitative', title: 'ms', scale: { zero: true } },
            color: { field: 'batching', type: 'nominal' },
            order: { field: 'concurrency', type: 'quantitative' },
          },
        },
        {
          mark: { type: 'text', dy: -8, fontSize: 9 },
          encoding: {
            x: { field: 'throughput', type: 'quantitative' },
            y: { field: 'latency', type: 'quantitative' },
            text: { field: 'concurrency', type: 'quantitative' },
            color: { field: 'batching', type: 'nominal' },
          },
        },
      ],
    },
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
