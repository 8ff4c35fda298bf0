// A loaded engine: the manifest, the tokenizer (when the checkpoint had one) and the native engine.
//   const engine = await Engine.load('engines/llama');
//   const r = await engine.generate(engine.encodePrompt('Hello'), { maxNewTokens: 32, onText: (t) => write(t) });
//   engine.close();
import { resolve } from 'node:path';
import { LlmcError } from '../errors.js';
import { loadAddon } from './addon.js';
import type { AddonEngine, BatchBenchResult } from './addon-types.js';
import { encodeChat } from './chat-template.js';
import { Executor, type ExecutorStats, type SchedulerOptions } from './executor.js';
import { runGeneration, type GenerateOptions, type GenerationResult } from './generation.js';
import { GenerationRequest } from './request.js';
import { readEngineManifest, type EngineManifest } from './manifest.js';
import { fromNativeError } from './native-error.js';
import { TextTokenizer } from './tokenizer.js';

export interface EngineLoadOptions {
  /** Default: the backend the engine was built for (config.json target.backend), else cpu. */
  backend?: 'cpu' | 'cuda';
  /** CPU threads; 0 or absent = all cores. */
  numThreads?: number;
  /** KV cache budget in bytes; 0 or absent = max_batch_size sequences of max_seq_len. */
  kvCacheBytes?: number;
  /** How the engine's executor schedules requests (batching mode, step limits, prefix caching). */
  scheduler?: SchedulerOptions;
}

/** The backend an engine runs on when none is asked for: the one it was built for. */
export function defaultBackend(manifest: EngineManifest): 'cpu' | 'cuda' {
  return manifest.target?.backend === 'cuda' ? 'cuda' : 'cpu';
}

export class Engine {
  private tokenizerCache: TextTokenizer | null | undefined;
  private infoCache: Record<string, unknown> | undefined;
  private closed = false;
  private executorCache: Executor | undefined;

  private constructor(readonly dir: string, readonly manifest: EngineManifest, private readonly native: AddonEngine,
    private readonly schedulerOptions: SchedulerOptions = {}) {}

  /** Checks config.json first (friendly errors), then loads rank0.engine natively, off the event loop. */
  static async load(dir: string, opts: EngineLoadOptions = {}): Promise<Engine> {
    const manifest = readEngineManifest(dir);
    if (opts.numThreads !== undefined && (!Number.isInteger(opts.numThreads) || opts.numThreads < 0)) {
      throw new LlmcError('BAD_ARGUMENT', `--threads must be an integer >= 1, got ${opts.numThreads}`);
    }
    const addon = loadAddon();
    try {
      const native = await addon.loadEngine(resolve(dir), {
        backend: opts.backend ?? defaultBackend(manifest),
        numThreads: opts.numThreads ?? 0,
        kvCacheBytes: opts.kvCacheBytes ?? 0,
      });
      return new Engine(dir, manifest, native, opts.scheduler);
    } catch (e) {
      throw fromNativeError(e);
    }
  }

  /** A rank > 0 of a sharded engine (under mpirun): runs rank 0's steps until rank 0 is done (docs/parallel.md). */
  async follow(): Promise<void> {
    try {
      await this.native.follow();
    } catch (e) {
      throw fromNativeError(e);
    }
  }

  /** null when the engine has no tokenizer.json. Loaded on first use (a 128k-vocab tokenizer takes ~100 ms). */
  get tokenizer(): TextTokenizer | null {
    if (this.tokenizerCache === undefined) this.tokenizerCache = TextTokenizer.load(this.dir);
    return this.tokenizerCache;
  }

  /** llmc_engine_info_json: dims, limits, backend, simd, threads, byte counts. */
  info(): Record<string, unknown> {
    if (!this.infoCache) this.infoCache = JSON.parse(this.native.info()) as Record<string, unknown>;
    return this.infoCache;
  }

  /** `batch` sequences of the prompt (ids shifted per sequence) decoded together; see llmc_bench_batch. */
  async benchBatch(promptIds: readonly number[], batch: number, genLen: number): Promise<BatchBenchResult> {
    try {
      return await this.native.benchBatch(Int32Array.from(promptIds), batch, genLen);
    } catch (e) {
      throw fromNativeError(e);
    }
  }

  get maxSeqLen(): number {
    return this.manifest.build.max_seq_len;
  }

  get vocabSize(): number {
    const v = this.manifest.model.vocab_size ?? this.info().vocab_size;
    if (typeof v !== 'number') throw new LlmcError('BAD_ENGINE', `${this.dir}/config.json has no model.vocab_size`);
    return v;
  }

  /** EOS ids: the manifest's generation.eos_token_ids plus the tokenizer's eos_token. */
  eosTokenIds(): number[] {
    const ids = new Set<number>(this.manifest.generation?.eos_token_ids ?? []);
    const tokEos = this.tokenizer?.eosTokenId;
    if (tokEos !== undefined) ids.add(tokEos);
    return [...ids];
  }

  private requireTokenizer(): TextTokenizer {
    const tok = this.tokenizer;
    if (!tok) throw new LlmcError('BAD_ARGUMENT', 'this engine has no tokenizer (tokenizer.json was not in the checkpoint); pass --token-ids');
    return tok;
  }

  /** Text -> prompt ids (with BOS as the tokenizer adds it), or through the chat template with `chat`. */
  encodePrompt(text: string, chat = false): number[] {
    const tok = this.requireTokenizer();
    return chat ? encodeChat(tok, text) : tok.encode(text);
  }

  encodeText(text: string, addSpecialTokens = true): number[] {
    return this.requireTokenizer().encode(text, addSpecialTokens);
  }

  /** The engine's executor (created on first use), stepping on its own native thread. */
  get executor(): Executor {
    this.checkOpen();
    if (!this.executorCache) this.executorCache = new Executor(this.native, this.schedulerOptions);
    return this.executorCache;
  }

  private requestContext() {
    return { executor: this.executor, tokenizer: this.tokenizer, eosIds: this.eosTokenIds(), vocabSize: this.vocabSize, maxSeqLen: this.maxSeqLen };
  }

  /**
   * Queues a request on the engine's executor and returns at once: iterate it for tokens and text as they come
   * (`for await (const chunk of req)`), `await req.result` for the whole result, `req.cancel()` to stop it.
   * Requests submitted together are batched in every step.
   */
  submit(promptIds: readonly number[], opts: GenerateOptions): GenerationRequest {
    return new GenerationRequest(this.requestContext(), promptIds, opts);
  }

  /** One request to its end (a client of the same executor as submit). */
  async generate(promptIds: readonly number[], opts: GenerateOptions): Promise<GenerationResult> {
    this.checkOpen();
    return runGeneration(this.requestContext(), promptIds, opts);
  }

  /** Queue, batch and KV-cache figures of the executor, as of its last step. */
  stats(): ExecutorStats {
    return this.executor.stats();
  }

  /** Sum of -log p(tokens[i] | tokens[<i]) for i >= 1, and how many tokens were scored. */
  async score(tokens: readonly number[]): Promise<{ nll: number; count: number }> {
    this.checkOpen();
    try {
      return await this.native.score(Int32Array.from(tokens));
    } catch (e) {
      throw fromNativeError(e);
    }
  }

  /**
   * Greedy requests (EOS ignored) batched through one executor: steps with several sequences, paged KV. Returns
   * the number of steps and each generated token with the step that produced it (llmc verify, src/verify/).
   */
  async runBatch(prompts: readonly (readonly number[])[], maxNewTokens: number): Promise<{ steps: number; tokens: { step: number; request: number; token: number }[] }> {
    this.checkOpen();
    try {
      const r = await this.native.runBatch(prompts.map((p) => Int32Array.from(p)), maxNewTokens);
      const tokens = [];
      for (let i = 0; i + 2 < r.tokens.length; i += 3) tokens.push({ step: r.tokens[i], request: r.tokens[i + 1], token: r.tokens[i + 2] });
      return { steps: r.steps, tokens };
    } catch (e) {
      throw fromNativeError(e);
    }
  }

  /** Stops every running request after its current step (their stop reason becomes 'cancelled'). */
  cancel(): void {
    if (!this.closed) this.native.cancel();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.executorCache?.close();
    this.native.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new LlmcError('RUNTIME', 'the engine is closed');
  }
}
