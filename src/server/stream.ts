// Choice events (chunks, results, errors of each executor request) into a response. Non-streamed: collected
// until every choice is done. Streamed: the choices' chunks, finish chunks and errors as OpenAI stream events
// (in the order they arrive, choices interleaved), then the usage chunk (stream_options.include_usage) and
// `data: [DONE]`. The part of every chunk that does not change (id, object, created, model, usage: null) is
// serialized once per response; each event serializes only its choice.
import type { Engine } from '../runtime/engine.js';
import type { GenerationResult, StreamChunk } from '../runtime/request.js';
import type { Job } from './requests.js';
import { chatLogprobs, completionLogprobs, finishReason, usageOf, type Kind } from './responses.js';
import type { SseWriter } from './sse.js';

/** What the server does with each choice's events: stream them (StreamResponse) or collect them. */
export interface ChoiceSink {
  chunk(choice: number, c: StreamChunk): void;
  result(choice: number, r: GenerationResult): void;
  error(choice: number, e: unknown): void;
}

/** A non-streamed response's sink: every choice's result, in choice order, or the first error. */
export function collectChoices(n: number): { sink: ChoiceSink; all: Promise<GenerationResult[]> } {
  const results: GenerationResult[] = new Array(n);
  let left = n;
  let error: unknown = null;
  let resolve!: (r: GenerationResult[]) => void;
  let reject!: (e: unknown) => void;
  const all = new Promise<GenerationResult[]>((res, rej) => { resolve = res; reject = rej; });
  const settle = () => {
    if (--left > 0) return;
    if (error) reject(error);
    else resolve(results);
  };
  return {
    all,
    sink: {
      chunk() {},
      result(i, r) { results[i] = r; settle(); },
      error(_i, e) { error ??= e; settle(); },
    },
  };
}

/** A streamed response's sink: each event written as it comes. */
export class StreamResponse implements ChoiceSink {
  private readonly head: string;   // `{"id":..,"object":..,"created":..,"model":..,"choices":[`
  private readonly tail: string;   // `]}` or `],"usage":null}`
  private readonly offsets: number[];
  private readonly results: GenerationResult[] = [];
  private left: number;

  constructor(private readonly engine: Engine, private readonly kind: Kind, private readonly job: Job, id: string, created: number,
    model: string, private readonly out: SseWriter) {
    const object = kind === 'completion' ? 'text_completion' : 'chat.completion.chunk';
    this.head = JSON.stringify({ id, object, created, model }).slice(0, -1) + ',"choices":[';
    this.tail = job.includeUsage ? '],"usage":null}' : ']}';
    this.left = job.options.length;
    this.offsets = new Array(this.left).fill(0);
    if (kind === 'chat') {
      for (let i = 0; i < this.left; i++) this.choice({ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });
    }
  }

  chunk(index: number, c: StreamChunk): void {
    const { engine, job } = this;
    // Held back (an incomplete character, a possible stop string); an engine without a tokenizer has no text:
    // each token still gets its chunk, with its id in the `token_ids` extension.
    if (!c.text && !c.logprob && engine.tokenizer) return;
    const lps = c.logprob && job.logprobs !== null ? [c.logprob] : null;
    this.choice(this.kind === 'completion'
      ? { index, text: c.text, logprobs: lps ? completionLogprobs(engine, lps, this.offsets[index]) : null, finish_reason: null,
        ...(engine.tokenizer ? {} : { token_ids: c.token === null ? [] : [c.token] }) }
      : { index, delta: { content: c.text }, logprobs: lps ? chatLogprobs(engine, lps) : null, finish_reason: null });
    this.offsets[index] += c.text.length;
  }

  result(index: number, r: GenerationResult): void {
    this.results.push(r);
    const fr = finishReason(r.stopReason);
    this.choice(this.kind === 'completion'
      ? { index, text: '', logprobs: null, finish_reason: fr }
      : { index, delta: {}, logprobs: null, finish_reason: fr });
    this.done();
  }

  error(_index: number, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.out.event(JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } }));
    this.done();
  }

  private choice(c: object): void {
    this.out.event(this.head + JSON.stringify(c) + this.tail);
  }

  private done(): void {
    if (--this.left > 0) return;
    if (this.job.includeUsage) this.out.event(`${this.head}],"usage":${JSON.stringify(usageOf(this.job.prompts, this.results))}}`);
    this.out.event('[DONE]');
    this.out.end();
  }
}
