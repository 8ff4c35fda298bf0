// The shape of the Node-API addon (native/node/addon.cpp), which is a thin wrapper over native/include/llmc/llmc.h.
// The addon validates nothing beyond types: src/runtime/ validates options first and gives friendly errors.
// Every long call runs off the event loop (Napi::AsyncWorker) and returns a Promise.

export interface AddonLoadOptions {
  backend?: 'cpu' | 'cuda';
  numThreads?: number;
  kvCacheBytes?: number;
}

export interface AddonRequest {
  prompt: Int32Array;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;             // integer in [0, 2^53)
  eosIds: Int32Array;
  ignoreEos: boolean;
  logitsPath?: string;
}

export interface AddonGenerateResult {
  outputIds: Int32Array;
  logitsRows: number;
  stopReason: 'none' | 'length' | 'eos' | 'callback' | 'cancelled';
  prefillMs: number;
  decodeMs: number;
}

/** Scheduler options of an executor (llmc_executor_options); absent = the engine's limits, in-flight, prefix caching on. */
export interface AddonExecutorOptions {
  admission?: number;        // 0 inflight, 1 dynamic, 2 static
  maxBatchSize?: number;
  maxNumTokens?: number;
  prefixCaching?: number;    // 1 on, 0 off
  staticBatchSize?: number;
  staticMaxWaitMs?: number;
}

export interface AddonSubmit extends AddonRequest {
  logprobs?: boolean;
  topLogprobs?: number;      // 0..20
  noPrefixCache?: boolean;
}

/** One generated token, or (finished: true) the end of a request. */
export interface AddonEvent {
  id: number;
  token?: number;
  index?: number;
  logprob?: number;
  topIds?: Int32Array;
  topLogprobs?: Float32Array;
  finished?: true;
  stopReason?: number;       // llmc_stop_reason
  cachedTokens?: number;
  logitsRows?: number;
  preemptions?: number;
  queueMs?: number;
  prefillMs?: number;
  decodeMs?: number;
  error?: string;            // the request failed (message from the runtime)
  code?: string;             // its llmc_status name
}

export interface AddonExecutorStats {
  waiting: number;
  running: number;
  kvBlocksTotal: number;
  kvBlocksFree: number;
  kvBlocksCached: number;
  prefixBlocksQueried: number;
  prefixBlocksHit: number;
  preemptions: number;
  steps: number;
  promptTokensComputed: number;
  promptTokensCached: number;
}

/** An executor stepping on its own native thread (native/node/executor_thread.h). */
export interface AddonExecutor {
  /** Queues a request; returns its id. Its events arrive through the onEvents callback given at creation. */
  submit(req: AddonSubmit): number;
  /** The request finishes at the next step (stop reason cancelled) and its KV blocks are freed. */
  cancel(id: number): void;
  /** A snapshot taken after the last step. */
  stats(): AddonExecutorStats;
  /** Cancels what is left, delivers the last events and joins the thread. */
  close(): void;
}

export interface AddonEngine {
  /** An executor with its own native thread; onEvents gets each step's events, in order, on the JS thread. */
  createExecutor(opts: AddonExecutorOptions, onEvents: (events: AddonEvent[]) => void): AddonExecutor;
  /** llmc_engine_info_json, parsed by the caller. */
  info(): string;
  /**
   * Generates off the event loop. onToken is called on the JS thread, in order, for each token (streaming);
   * it may arrive slightly after the native side produced it. Rejects with Error(message from llmc_last_error).
   */
  generate(req: AddonRequest, onToken?: (tokenId: number, index: number) => void): Promise<AddonGenerateResult>;
  /** Negative log-likelihood of tokens[1..] given their prefix. */
  score(tokens: Int32Array): Promise<{ nll: number; count: number }>;
  /**
   * Greedy requests (EOS ignored) through one executor, so steps carry batch > 1 with paged KV (llmc verify).
   * tokens: (step, request index, token id) triples, in the order the steps produced them.
   */
  runBatch(prompts: Int32Array[], maxNewTokens: number): Promise<{ steps: number; tokens: Int32Array }>;
  /** Ranks > 0 of a sharded engine: runs rank 0's steps until rank 0 closes its engine (llmc_engine_follow). */
  follow(): Promise<void>;
  /** llmc_engine_cancel: the running generate stops after its current step. */
  cancel(): void;
  /** Frees the engine; later calls reject. */
  close(): void;
  /** llmc_bench_batch: `batch` sequences through the executor, prefill and decode timed separately. */
  benchBatch(prompt: Int32Array, batch: number, genLen: number): Promise<BatchBenchResult>;
}

export interface BatchBenchResult {
  batch: number;
  decodeSteps: number;
  prefillMs: number;
  decodeMs: number;
  /** Aggregate decode tokens/s over all sequences, and per sequence. */
  decodeTokS: number;
  perSeqTokS: number;
}

export interface Addon {
  /** Rejects with Error(llmc_last_error()) and sets err.code to the llmc_status name (e.g. 'LLMC_ERR_VERSION'). */
  loadEngine(dir: string, opts: AddonLoadOptions): Promise<AddonEngine>;
  measureMemoryBandwidth(numThreads: number, seconds: number): Promise<number>;
  /** llmc_cpu_kernel_paths_json: the path each CPU kernel kind took last in this process. */
  cpuKernelPaths(): string;
  /** llmc_cpu_planned_kernel_paths_json: what each CPU kernel kind would run for weights of this dtype. */
  plannedKernelPaths(dtype: 'f32' | 'f16' | 'bf16'): string;
  apiVersion: number;
  engineFormatVersion: number;
  schemaHash: string;
}
