// Prometheus metrics of `llmc serve` (prom-client), served as text at GET /metrics. Latency histograms are fed by
// the handlers; queue and KV-cache gauges are read from the executor's stats when scraped.
import client from 'prom-client';
import type { Engine } from '../runtime/engine.js';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class ServerMetrics {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<'endpoint' | 'status'>;
  readonly ttft: client.Histogram;
  readonly tpot: client.Histogram;
  readonly itl: client.Histogram;
  readonly e2e: client.Histogram;
  readonly promptTokens: client.Counter;
  readonly generationTokens: client.Counter;

  constructor(engine: Engine) {
    const r = this.registry;
    client.collectDefaultMetrics({ register: r });  // process_resident_memory_bytes, event loop lag, ...
    this.requests = new client.Counter({ name: 'llmc_requests_total', help: 'Finished HTTP requests by endpoint and status code', labelNames: ['endpoint', 'status'], registers: [r] });
    this.ttft = new client.Histogram({ name: 'llmc_time_to_first_token_seconds', help: 'Request arrival to first generated token', buckets: LATENCY_BUCKETS, registers: [r] });
    this.tpot = new client.Histogram({ name: 'llmc_time_per_output_token_seconds', help: 'Mean time per generated token after the first, per request', buckets: LATENCY_BUCKETS, registers: [r] });
    this.itl = new client.Histogram({ name: 'llmc_inter_token_latency_seconds', help: 'Time between consecutive generated tokens', buckets: LATENCY_BUCKETS, registers: [r] });
    this.e2e = new client.Histogram({ name: 'llmc_e2e_request_latency_seconds', help: 'Request arrival to its last token', buckets: LATENCY_BUCKETS, registers: [r] });
    this.promptTokens = new client.Counter({ name: 'llmc_prompt_tokens_total', help: 'Prompt tokens of accepted requests', registers: [r] });
    this.generationTokens = new client.Counter({ name: 'llmc_generation_tokens_total', help: 'Generated tokens', registers: [r] });
    const gauge = (name: string, help: string, read: (s: ReturnType<Engine['stats']>) => number) =>
      new client.Gauge({ name, help, registers: [r], collect() { this.set(read(engine.stats())); } });
    gauge('llmc_requests_running', 'Requests admitted to the batch (holding KV blocks)', (s) => s.running);
    gauge('llmc_requests_waiting', 'Requests queued for admission (incl. preempted ones)', (s) => s.waiting);
    gauge('llmc_kv_cache_blocks_total', 'KV cache blocks', (s) => s.kvBlocksTotal);
    gauge('llmc_kv_cache_blocks_used', 'KV cache blocks referenced by sequences', (s) => s.kvBlocksTotal - s.kvBlocksFree);
    gauge('llmc_kv_cache_blocks_free', 'KV cache blocks free to allocate (incl. evictable cached prefix blocks)', (s) => s.kvBlocksFree);
    gauge('llmc_prefix_cache_blocks_cached', 'Published prefix blocks', (s) => s.kvBlocksCached);
    gauge('llmc_prefix_cache_queries', 'Full prompt blocks looked up in the prefix cache since start', (s) => s.prefixBlocksQueried);
    gauge('llmc_prefix_cache_hits', 'Of those, found (their KV reused)', (s) => s.prefixBlocksHit);
    gauge('llmc_prefix_cache_hit_rate', 'prefix_cache_hits / prefix_cache_queries (0 before any query)',
      (s) => (s.prefixBlocksQueried > 0 ? s.prefixBlocksHit / s.prefixBlocksQueried : 0));
    gauge('llmc_preemptions', 'Requests preempted (KV freed, recomputed later) since start', (s) => s.preemptions);
    gauge('llmc_steps', 'Executor steps since start', (s) => s.steps);
  }
}
