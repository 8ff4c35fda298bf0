// The async request API over the native executor: every request gets its own sampling parameters and seed, an
// async iterator of its tokens (with text and logprobs), cancel(), and a result promise. The executor steps on its
// own native thread (native/node/executor_thread.h); every step packs all running requests (in-flight batching).
//   const req = engine.submit(engine.encodePrompt('Hello'), { maxNewTokens: 32, sampling: { temperature: 0.8, seed: 1 } });
//   for await (const chunk of req) process.stdout.write(chunk.text);
//   const { outputIds, stopReason } = await req.result;
import { LlmcError } from '../errors.js';
import type { AddonEngine, AddonEvent, AddonExecutor, AddonExecutorOptions, AddonExecutorStats } from './addon-types.js';
import { fromNativeError } from './native-error.js';

export type Batching = 'inflight' | 'dynamic' | 'static';

/** How the executor schedules (docs/serving.md "Scheduler"). */
export interface SchedulerOptions {
  /** inflight (default): admit every step; dynamic: batches from the queue, run to completion; static: fixed-size batches. */
  batching?: Batching;
  /** Sequences per step; default and upper bound: the engine's max_batch_size. */
  maxBatchSize?: number;
  /** Tokens per step (chunked prefill budget); default and upper bound: the engine's max_num_tokens. */
  maxNumTokens?: number;
  /** Share KV blocks of identical prompt prefixes (default true). */
  prefixCaching?: boolean;
  /** static batching: the batch size (default maxBatchSize) and how long a smaller batch may wait (default 1000 ms). */
  staticBatchSize?: number;
  staticMaxWaitMs?: number;
}

const ADMISSION: Record<Batching, number> = { inflight: 0, dynamic: 1, static: 2 };

export function toAddonExecutorOptions(o: SchedulerOptions = {}): AddonExecutorOptions {
  const posInt = (v: number | undefined, flag: string) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new LlmcError('BAD_ARGUMENT', `${flag} must be an integer >= 1, got ${v}`);
    return v ?? 0;
  };
  if (o.batching !== undefined && !(o.batching in ADMISSION)) {
    throw new LlmcError('BAD_ARGUMENT', `--batching must be inflight, dynamic or static, got ${String(o.batching)}`);
  }
  if (o.staticMaxWaitMs !== undefined && !(Number.isFinite(o.staticMaxWaitMs) && o.staticMaxWaitMs > 0)) {
    throw new LlmcError('BAD_ARGUMENT', `staticMaxWaitMs must be a number > 0, got ${o.staticMaxWaitMs}`);
  }
  return {
    admission: ADMISSION[o.batching ?? 'inflight'],
    maxBatchSize: posInt(o.maxBatchSize, '--max-batch-size'),
    maxNumTokens: posInt(o.maxNumTokens, '--max-num-tokens'),
    prefixCaching: o.prefixCaching === false ? 0 : 1,
    staticBatchSize: posInt(o.staticBatchSize, '--static-batch-size'),
    staticMaxWaitMs: o.staticMaxWaitMs ?? 0,
  };
}

export type ExecutorStats = AddonExecutorStats;

export interface EventSink {
  onEvent(e: AddonEvent): void;
}

/** One native executor and the routing of its events to requests. */
export class Executor {
  private readonly native: AddonExecutor;
  private readonly sinks = new Map<number, EventSink>();
  private closed = false;

  constructor(engine: AddonEngine, opts: SchedulerOptions = {}) {
    try {
      this.native = engine.createExecutor(toAddonExecutorOptions(opts), (events) => this.dispatch(events));
    } catch (e) {
      throw fromNativeError(e);
    }
  }

  /** Requests queued or running (as seen by JS: submitted and not finished). */
  get active(): number {
    return this.sinks.size;
  }

  submit(req: Parameters<AddonExecutor['submit']>[0], sink: EventSink): number {
    if (this.closed) throw new LlmcError('RUNTIME', 'the engine is closed');
    const id = this.native.submit(req);
    this.sinks.set(id, sink);
    return id;
  }

  cancel(id: number): void {
    if (!this.closed && this.sinks.has(id)) this.native.cancel(id);
  }

  stats(): ExecutorStats {
    return this.native.stats();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }

  private dispatch(events: AddonEvent[]): void {
    for (const e of events) {
      const sink = this.sinks.get(e.id);
      if (!sink) continue;
      if (e.finished) this.sinks.delete(e.id);
      sink.onEvent(e);
    }
  }
}
