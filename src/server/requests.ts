// OpenAI request bodies -> prompts (token ids) and generate options, with the checks that need the engine: the
// model name, the context length (naming both numbers), parameters llmc does not implement.
import { renderChatTemplate, type ChatMessage } from '../runtime/chat-template.js';
import type { Engine } from '../runtime/engine.js';
import type { GenerateOptions } from '../runtime/request.js';
import { LlmcError } from '../errors.js';
import { ApiError, badRequest } from './api-error.js';
import type { ChatBody, CommonBody, CompletionBody } from './schemas.js';

export interface Job {
  prompts: number[][];
  n: number;
  options: GenerateOptions[];   // [prompts.length * n], choice index = prompt * n + k
  stream: boolean;
  includeUsage: boolean;
  logprobs: number | null;      // top alternatives asked for (null = no logprobs)
}

export function checkModel(model: string | undefined, served: string): void {
  if (model !== undefined && model !== served) {
    throw new ApiError(404, `The model \`${model}\` does not exist; this server serves \`${served}\` (GET /v1/models)`,
      'invalid_request_error', 'model', 'model_not_found');
  }
}

function checkNeutral(body: CommonBody): void {
  if (body.presence_penalty) throw badRequest('presence_penalty is not supported by llmc (only 0); use repetition_penalty', 'presence_penalty');
  if (body.frequency_penalty) throw badRequest('frequency_penalty is not supported by llmc (only 0); use repetition_penalty', 'frequency_penalty');
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) throw badRequest('logit_bias is not supported by llmc', 'logit_bias');
}

function tokenizerOf(engine: Engine) {
  const tok = engine.tokenizer;
  if (!tok) throw badRequest('this engine has no tokenizer (tokenizer.json was not in the checkpoint): send the prompt as token ids', 'prompt');
  return tok;
}

export function completionPrompts(engine: Engine, body: CompletionBody): number[][] {
  if (body.echo) throw badRequest('echo is not supported by llmc', 'echo');
  if (body.suffix) throw badRequest('suffix is not supported by llmc', 'suffix');
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== (body.n ?? 1)) throw badRequest('best_of is not supported by llmc (only best_of = n)', 'best_of');
  const p = body.prompt;
  if (typeof p === 'string') return [tokenizerOf(engine).encode(p)];
  if (p.length > 0 && typeof p[0] === 'number') return [p as number[]];
  if (p.length > 0 && typeof p[0] === 'string') return (p as string[]).map((s) => tokenizerOf(engine).encode(s));
  return p as number[][];
}

export function chatPrompt(engine: Engine, body: ChatBody): number[] {
  const tok = tokenizerOf(engine);
  const template = tok.chatTemplate();
  if (template === null) throw badRequest('this model has no chat template (tokenizer_config.json chat_template); use /v1/completions', 'messages');
  const messages: ChatMessage[] = body.messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : m.content.map((c) => c.text).join(''),
  }));
  try {
    return tok.encode(renderChatTemplate(template, messages, tok.specialTokenStrings()), false);
  } catch (e) {
    if (e instanceof LlmcError) throw badRequest(e.message, 'messages');
    throw e;
  }
}

/** Prompts + body -> the job: one generate option set per choice. */
export function makeJob(engine: Engine, body: CommonBody, prompts: number[][], maxTokensField: number | null | undefined,
  defaultMaxTokens: (promptLen: number) => number, logprobs: number | null): Job {
  checkNeutral(body);
  const maxSeqLen = engine.maxSeqLen;
  const vocab = engine.vocabSize;
  const n = body.n ?? 1;
  const options: GenerateOptions[] = [];
  const stop = body.stop === undefined || body.stop === null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (stop.length > 0 && !engine.tokenizer) throw badRequest('stop needs a tokenizer and this engine has none', 'stop');
  for (const prompt of prompts) {
    for (const id of prompt) {
      if (id >= vocab) throw badRequest(`token id ${id} in the prompt is outside the vocabulary [0, ${vocab})`, 'prompt');
    }
    if (prompt.length === 0) throw badRequest('the prompt is empty (0 tokens)', 'prompt');
    const maxTokens = maxTokensField ?? defaultMaxTokens(prompt.length);
    if (prompt.length >= maxSeqLen || prompt.length + maxTokens > maxSeqLen) {
      throw badRequest(`This model's maximum context length is ${maxSeqLen} tokens, but you requested ${prompt.length + maxTokens} tokens ` +
        `(${prompt.length} in the prompt, ${maxTokens} for the completion); shorten the prompt or lower max_tokens`,
        maxTokensField ? 'max_tokens' : 'prompt', 'context_length_exceeded');
    }
    // No seed: a fresh one per request (OpenAI's requests are not reproducible without one).
    const seed = body.seed ?? Math.floor(Math.random() * 2 ** 32);
    for (let k = 0; k < n; k++) {
      options.push({
        maxNewTokens: Math.max(1, maxTokens),
        sampling: {
          temperature: body.temperature ?? 1,
          topP: body.top_p ?? 1,
          topK: body.top_k === undefined || body.top_k === null || body.top_k < 0 ? 0 : body.top_k,
          repetitionPenalty: body.repetition_penalty ?? 1,
          seed: (seed + k) % Number.MAX_SAFE_INTEGER,
        },
        stop,
        ignoreEos: body.ignore_eos ?? false,
        logprobs: logprobs !== null,
        topLogprobs: logprobs ?? 0,
      });
    }
  }
  return {
    prompts, n, options, stream: body.stream ?? false, includeUsage: body.stream_options?.include_usage ?? false, logprobs,
  };
}
