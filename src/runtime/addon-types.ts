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

export interface AddonEngine {
  /** llmc_engine_info_json, parsed by the caller. */
  info(): string;
  /**
   * Generates off the event loop. onToken is called on the JS thread, in order, for each token (streaming);
   * it may arrive slightly after the native side produced it. Rejects with Error(message from llmc_last_error).
   */
  generate(req: AddonRequest, onToken?: (tokenId: number, index: number) => void): Promise<AddonGenerateResult>;
  /** Negative log-likelihood of tokens[1..] given their prefix. */
  score(tokens: Int32Array): Promise<{ nll: number; count: number }>;
  /** llmc_engine_cancel: the running generate stops after its current step. */
  cancel(): void;
  /** Frees the engine; later calls reject. */
  close(): void;
}

export interface Addon {
  /** Rejects with Error(llmc_last_error()) and sets err.code to the llmc_status name (e.g. 'LLMC_ERR_VERSION'). */
  loadEngine(dir: string, opts: AddonLoadOptions): Promise<AddonEngine>;
  measureMemoryBandwidth(numThreads: number, seconds: number): Promise<number>;
  apiVersion: number;
  engineFormatVersion: number;
  schemaHash: string;
}
