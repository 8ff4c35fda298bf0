// One generate request on a loaded engine: sampling checks, streaming text with stop strings, and the result
// in the units the CLI reports. Engine.generate (engine.ts) is the public entry point.
import { existsSync, statSync, truncateSync } from 'node:fs';
import { LlmcError } from '../errors.js';
import type { AddonEngine } from './addon-types.js';
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
  /** Every generated token kept in the output, in order. */
  onToken?: (tokenId: number, index: number) => void;
  /** Text as it becomes printable (needs a tokenizer). */
  onText?: (text: string) => void;
}

export interface GenerationResult {
  outputIds: number[];               // generated tokens only
  text: string | null;               // null without a tokenizer
  stopReason: StopReason;
  promptTokens: number;
  maxNewTokens: number;              // the bound actually used
  logitsShape: [number, number] | null;
  prefillMs: number;                 // time to first token
  decodeMs: number;                  // all later steps
  tpotMs: number | null;             // decode time per token after the first; null with fewer than 2 tokens
}

export interface GenerationContext {
  native: AddonEngine;
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

export async function runGeneration(ctx: GenerationContext, promptIds: readonly number[], opts: GenerateOptions): Promise<GenerationResult> {
  checkPromptIds(promptIds, ctx.vocabSize, ctx.maxSeqLen);
  const sampling = validateSampling(opts.sampling);
  checkRange(RANGES.maxNewTokens, opts.maxNewTokens);
  const maxNewTokens = Math.min(opts.maxNewTokens, ctx.maxSeqLen - promptIds.length);
  const stops = opts.stop ?? [];
  if (stops.length > 0 && !ctx.tokenizer) {
    throw new LlmcError('BAD_ARGUMENT', '--stop needs a tokenizer to see text, and this engine has none (tokenizer.json was not in the checkpoint)');
  }
  const tok = ctx.tokenizer;
  const stream = tok ? new TextStream((ids) => tok.decode(ids), promptIds, stops) : null;
  let callbackError: unknown = null;

  const onToken = (tokenId: number, index: number) => {
    if (stream?.stopped || callbackError) return;  // tokens the runtime made before the cancel took effect
    try {
      opts.onToken?.(tokenId, index);
      if (stream) {
        const step = stream.push(tokenId);
        if (step.emit) opts.onText?.(step.emit);
        if (step.stopped) ctx.native.cancel();
      }
    } catch (e) {
      callbackError = e;
      ctx.native.cancel();
    }
  };

  let r;
  try {
    r = await ctx.native.generate({
      prompt: Int32Array.from(promptIds),
      maxNewTokens,
      temperature: sampling.temperature,
      topK: sampling.topK,
      topP: sampling.topP,
      repetitionPenalty: sampling.repetitionPenalty,
      seed: sampling.seed,
      eosIds: Int32Array.from(ctx.eosIds),
      ignoreEos: opts.ignoreEos ?? false,
      logitsPath: opts.logitsPath,
    }, onToken);
  } catch (e) {
    throw fromNativeError(e);
  }
  if (callbackError) throw callbackError;

  let outputIds = Array.from(r.outputIds);
  let stopReason: StopReason = r.stopReason;
  let logitsRows = r.logitsRows;
  if (stream?.stopped && stream.stopTokenCount !== null) {
    outputIds = outputIds.slice(0, stream.stopTokenCount);
    stopReason = 'stop_string';
    if (opts.logitsPath && logitsRows > 0) {
      logitsRows = Math.min(logitsRows, promptIds.length + outputIds.length - 1);
      trimLogitsFile(opts.logitsPath, logitsRows, ctx.vocabSize);
    }
  } else if (stream) {
    const rest = stream.finish();
    if (rest) opts.onText?.(rest);
  }
  const generated = r.outputIds.length;  // timing covers every step the runtime ran
  return {
    outputIds,
    text: stream ? stream.finalText : null,
    stopReason,
    promptTokens: promptIds.length,
    maxNewTokens,
    logitsShape: opts.logitsPath ? [logitsRows, ctx.vocabSize] : null,
    prefillMs: r.prefillMs,
    decodeMs: r.decodeMs,
    tpotMs: generated >= 2 ? r.decodeMs / (generated - 1) : null,
  };
}
