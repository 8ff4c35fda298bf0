// OpenAI response bodies and stream chunks from generation results (completions and chat completions).
import type { Engine } from '../runtime/engine.js';
import type { GenerationResult, StopReason, TokenLogprob } from '../runtime/request.js';

export type Kind = 'completion' | 'chat';

export function finishReason(r: StopReason): string {
  return r === 'length' ? 'length' : r === 'cancelled' ? 'abort' : 'stop';
}

export function tokenText(engine: Engine, id: number): string {
  return engine.tokenizer ? engine.tokenizer.decode([id], false) : String(id);
}

/** Legacy completions logprobs: tokens, token_logprobs, top_logprobs ({token: logprob}), text_offset. */
export function completionLogprobs(engine: Engine, lps: TokenLogprob[], startOffset = 0) {
  const tokens: string[] = [];
  const tokenLogprobs: number[] = [];
  const top: Record<string, number>[] = [];
  const textOffset: number[] = [];
  let offset = startOffset;
  for (const lp of lps) {
    const t = tokenText(engine, lp.token);
    tokens.push(t);
    tokenLogprobs.push(lp.logprob);
    top.push(Object.fromEntries(lp.top.map((x) => [tokenText(engine, x.token), x.logprob])));
    textOffset.push(offset);
    offset += t.length;
  }
  return { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: textOffset };
}

export function chatLogprobs(engine: Engine, lps: TokenLogprob[]) {
  const entry = (token: number, logprob: number) => {
    const t = tokenText(engine, token);
    return { token: t, logprob, bytes: [...Buffer.from(t, 'utf8')] };
  };
  return { content: lps.map((lp) => ({ ...entry(lp.token, lp.logprob), top_logprobs: lp.top.map((x) => entry(x.token, x.logprob)) })) };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(prompts: number[][], results: { outputIds: number[] }[]): Usage {
  const prompt = prompts.reduce((s, p) => s + p.length, 0);
  const completion = results.reduce((s, r) => s + r.outputIds.length, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function fullResponse(kind: Kind, engine: Engine, id: string, model: string, created: number, prompts: number[][],
  results: GenerationResult[], logprobs: boolean) {
  const choices = results.map((r, index) => {
    const text = r.text ?? '';
    if (kind === 'completion') {
      return { index, text, logprobs: logprobs && r.logprobs ? completionLogprobs(engine, r.logprobs) : null, finish_reason: finishReason(r.stopReason) };
    }
    return {
      index, message: { role: 'assistant', content: text },
      logprobs: logprobs && r.logprobs ? chatLogprobs(engine, r.logprobs) : null, finish_reason: finishReason(r.stopReason),
    };
  });
  return {
    id, object: kind === 'completion' ? 'text_completion' : 'chat.completion', created, model, choices,
    usage: usageOf(prompts, results),
  };
}
