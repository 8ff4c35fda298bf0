// One request on the executor (executor.ts): validated options in, an async iterator of chunks (token, printable
// text, logprobs) and a result promise out. Stop strings are found in the streamed text; the request is then
// cancelled natively and later tokens are dropped. Engine.submit makes these; Engine.generate drives one to the end.
import { existsSync, statSync, truncateSync } from 'node:fs';
import { LlmcError } from '../errors.js';
import type { AddonEvent } from './addon-types.js';
import type { EventSink, Executor } from './executor.js';
import { fromNativeError } from './native-error.js';
import { checkRange, RANGES, validateSampling, type SamplingOptions } from './sampling.js';
import { TextStream } from './text-stream.js';
import type { TextTokenizer } from './tokenizer.js';

export type StopReason = 'length' | 'eos' | 'stop_string' | 'cancelled' | 'callback' | 'none';

export interface GenerateOptions {
  /** Upper bound on generated tokens; lowered to fit max_seq_len (see GenerationResult.maxNewTokens). */
  maxNewTokens: number;
  sampling?: Partial<SamplingOptions>;
  /** Keep generating past EOS (benchmarks). */
  ignoreEos?: boolean;
  /** Stop strings (needs a tokenizer): generation stops when the text contains one; the text ends before it. */
  stop?: string[];
  /** Write float32 logits [rows, vocab] here, rows = prompt + generated - 1. */
  logitsPath?: string;
  /** Report log p(token) of each generated token, with this many alternatives (0..20). */
  logprobs?: boolean;
  topLogprobs?: number;
  /** Compute the whole prompt even when its leading KV blocks are in the prefix cache. */
  noPrefixCache?: boolean;
  /** Every generated token kept in the output, in order. */
  onToken?: (tokenId: number, index: number) => void;
  /** Text as it becomes printable (needs a tokenizer). */
  onText?: (text: string) => void;
}

export interface TokenLogprob {
  token: number;
  logprob: number;
  top: { token: number; logprob: number }[];
}

/** One step of a request's stream: a generated token (token !== null) or the text held back until the end. */
export interface StreamChunk {
  token: number | null;
  index: number;
  /** Text that became printable with this token ('' while a character or a possible stop string is incomplete). */
  text: string;
  logprob?: TokenLogprob;
}

export interface GenerationResult {
  outputIds: number[];               // generated tokens only
  text: string | null;               // null without a tokenizer
  stopReason: StopReason;
  promptTokens: number;
  maxNewTokens: number;              // the bound actually used
  logitsShape: [number, number] | null;
  queueMs: number;                   // submitted -> admitted
  prefillMs: number;                 // admitted -> first token
  decodeMs: number;                  // all later steps
  tpotMs: number | null;             // decode time per token after the first; null with fewer than 2 tokens
  cachedTokens: number;              // prompt tokens served from the prefix cache
  preemptions: number;               // times the KV cache ran full and this request was recomputed
  logprobs: TokenLogprob[] | null;   // with opts.logprobs
}

export interface RequestContext {
  executor: Executor;
  tokenizer: TextTokenizer | null;
  eosIds: number[];
  vocabSize: number;
  maxSeqLen: number;
}

export function checkPromptIds(ids: readonly number[], vocabSize: number, maxSeqLen: number, what = 'prompt'): void {
  if (ids.length === 0) throw new LlmcError('BAD_ARGUMENT', `the ${what} is empty; give at least one token`);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new LlmcError('BAD_ARGUMENT', `token id ${id} in the ${what} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
  if (ids.length > maxSeqLen) {
    throw new LlmcError('LIMIT', `the ${what} has ${ids.length} tokens but this engine's max_seq_len is ${maxSeqLen}`,
      'shorten it, or rebuild the engine with a larger --max-seq-len');
  }
}

// When a stop string cut the output short of what the runtime generated, the logits file has rows for the
// dropped tokens too: trim it so rows = prompt + kept - 1, as documented.
function trimLogitsFile(path: string, rows: number, vocab: number): void {
  const want = rows * vocab * 4;
  if (existsSync(path) && statSync(path).size > want) truncateSync(path, want);
}

const STOP_REASONS: StopReason[] = ['none', 'length', 'eos', 'callback', 'cancelled'];

export class GenerationRequest implements AsyncIterable<StreamChunk>, EventSink {
  readonly id: number;
  readonly result: Promise<GenerationResult>;
  readonly promptTokens: number;
  readonly maxNewTokens: number;
  private resolveResult!: (r: GenerationResult) => void;
  private rejectResult!: (e: unknown) => void;
  private readonly stream: TextStream | null;
  private readonly outputIds: number[] = [];
  private readonly logprobs: TokenLogprob[] | null;
  private readonly chunks: StreamChunk[] = [];
  private wake: (() => void) | null = null;
  private done = false;
  private failure: unknown = null;
  private generatedNative = 0;

  constructor(private readonly ctx: RequestContext, promptIds: readonly number[], private readonly opts: GenerateOptions) {
    checkPromptIds(promptIds, ctx.vocabSize, ctx.maxSeqLen);
    const sampling = validateSampling(opts.sampling);
    checkRange(RANGES.maxNewTokens, opts.maxNewTokens);
    if (opts.topLogprobs !== undefined && !(Number.isInteger(opts.topLogprobs) && opts.topLogprobs >= 0 && opts.topLogprobs <= 20)) {
      throw new LlmcError('BAD_ARGUMENT', `top_logprobs must be an integer in [0, 20], got ${opts.topLogprobs}`);
    }
    this.maxNewTokens = Math.min(opts.maxNewTokens, ctx.maxSeqLen - promptIds.length);
    this.promptTokens = promptIds.length;
    const stops = opts.stop ?? [];
    if (stops.length > 0 && !ctx.tokenizer) {
      throw new LlmcError('BAD_ARGUMENT', '--stop needs a tokenizer to see text, and this engine has none (tokenizer.json was not in the checkpoint)');
    }
    const tok = ctx.tokenizer;
    this.stream = tok ? new TextStream((ids) => tok.decode(ids), promptIds, stops) : null;
    this.logprobs = opts.logprobs ? [] : null;
    this.result = new Promise<GenerationResult>((res, rej) => {
      this.resolveResult = res;
      this.rejectResult = rej;
    });
    this.result.catch(() => {});  // a caller that only iterates sees the error there
    this.id = ctx.executor.submit({
      prompt: Int32Array.from(promptIds),
      maxNewTokens: this.maxNewTokens,
      temperature: sampling.temperature,
      topK: sampling.topK,
      topP: sampling.topP,
      repetitionPenalty: sampling.repetitionPenalty,
      seed: sampling.seed,
      eosIds: Int32Array.from(ctx.eosIds),
      ignoreEos: opts.ignoreEos ?? false,
      logitsPath: opts.logitsPath,
      logprobs: opts.logprobs ?? false,
      topLogprobs: opts.topLogprobs ?? 0,
      noPrefixCache: opts.noPrefixCache ?? false,
    }, this);
  }

  /** Stops the request at the next step; its KV blocks are freed and the result's stop reason is 'cancelled'. */
  cancel(): void {
    this.ctx.executor.cancel(this.id);
  }

  get finished(): boolean {
    return this.done;
  }

  onEvent(e: AddonEvent): void {
    if (e.finished) {
      this.finish(e);
      return;
    }
    this.generatedNative++;
    if (this.stream?.stopped || this.failure) return;  // tokens the runtime made before the cancel took effect
    const token = e.token as number;
    const index = e.index as number;
    let lp: TokenLogprob | undefined;
    if (this.logprobs && e.logprob !== undefined) {
      const top = [];
      for (let i = 0; i < (e.topIds?.length ?? 0); i++) top.push({ token: e.topIds![i], logprob: e.topLogprobs![i] });
      lp = { token, logprob: e.logprob, top };
      this.logprobs.push(lp);
    }
    this.outputIds.push(token);
    let text = '';
    try {
      this.opts.onToken?.(token, index);
      if (this.stream) {
        const step = this.stream.push(token);
        text = step.emit;
        if (text) this.opts.onText?.(text);
        if (step.stopped) this.cancel();
      }
    } catch (err) {
      this.failure = err;
      this.cancel();
      return;
    }
    this.push({ token, index, text, logprob: lp });
  }

  private push(c: StreamChunk): void {
    this.chunks.push(c);
    this.wake?.();
  }

  private finish(e: AddonEvent): void {
    if (e.error !== undefined) {
      const err = Object.assign(new Error(e.error), { code: e.code });
      this.failure ??= fromNativeError(err);
    }
    if (this.failure) {
      this.done = true;
      this.rejectResult(this.failure);
      this.wake?.();
      return;
    }
    let outputIds = this.outputIds;
    let stopReason: StopReason = STOP_REASONS[e.stopReason ?? 0] ?? 'none';
    let logitsRows = e.logitsRows ?? 0;
    if (this.stream?.stopped && this.stream.stopTokenCount !== null) {
      outputIds = outputIds.slice(0, this.stream.stopTokenCount);
      this.logprobs?.splice(outputIds.length);
      stopReason = 'stop_string';
      if (this.opts.logitsPath && logitsRows > 0) {
        logitsRows = Math.min(logitsRows, this.promptTokens + outputIds.length - 1);
        trimLogitsFile(this.opts.logitsPath, logitsRows, this.ctx.vocabSize);
      }
    } else if (this.stream) {
      const rest = this.stream.finish();
      if (rest) {
        try {
          this.opts.onText?.(rest);
        } catch (err) {
          this.done = true;
          this.rejectResult(err);
          this.failure = err;
          this.wake?.();
          return;
        }
        this.push({ token: null, index: outputIds.length, text: rest });
      }
    }
    const generated = this.generatedNative;  // timing covers every step the runtime ran
    const decodeMs = e.decodeMs ?? 0;
    this.done = true;
    this.resolveResult({
      outputIds,
      text: this.stream ? this.stream.finalText : null,
      stopReason,
      promptTokens: this.promptTokens,
      maxNewTokens: this.maxNewTokens,
      logitsShape: this.opts.logitsPath ? [logitsRows, this.ctx.vocabSize] : null,
      queueMs: e.queueMs ?? 0,
      prefillMs: e.prefillMs ?? 0,
      decodeMs,
      tpotMs: generated >= 2 ? decodeMs / (generated - 1) : null,
      cachedTokens: e.cachedTokens ?? 0,
      preemptions: e.preemptions ?? 0,
      logprobs: this.logprobs,
    });
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamChunk> {
    let next = 0;
    while (true) {
      if (next < this.chunks.length) {
        yield this.chunks[next++];
        continue;
      }
      if (this.done) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((res) => { this.wake = res; });
      this.wake = null;
    }
  }
}
