// The server's HTTP request bodies: POST /v1/completions and /v1/chat/completions through the whole fastify app of
// `llmc serve` (content-type parsing, the JSON schemas of src/server/schemas.ts, the engine-aware checks of
// requests.ts, generation, the JSON or SSE response) with app.inject (no port), on the kjv-tiny example engine
// (a chat template added, max_seq_len 64 so every accepted body generates little). The contract: a 200 whose body
// is a completion (JSON, or SSE events of JSON ending in [DONE] with no error event), or a 4xx whose body is an
// OpenAI-shaped JSON error with a one-line message. A 5xx, anything else, or a throw is a finding.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlmcError } from '../../errors.js';
import { Engine } from '../../runtime/engine.js';
import { createLlmcServer, type LlmcServer } from '../../server/app.js';
import { cachedEngine, repoRoot } from '../corpus.js';
import type { Rng } from '../rng.js';
import { mutateFiles, type FuzzCase, type FuzzTarget } from '../target.js';

const COMPLETIONS = '/v1/completions';
const CHAT = '/v1/chat/completions';
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', 'text/plain', '-'];
const TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

// Bodies like docs/serving.md's and the OpenAI client's, covering every field the schemas know.
const SEEDS: [string, unknown][] = [
  [COMPLETIONS, { model: 'kjv', prompt: 'And God said', max_tokens: 8, temperature: 0 }],
  [COMPLETIONS, { prompt: ['In the beginning', 'And the earth'], max_tokens: 4, n: 2, seed: 7, temperature: 0.8, top_p: 0.9, top_k: 40 }],
  [COMPLETIONS, { prompt: [1, 450, 300], max_tokens: 4, logprobs: 2, stop: ['\n', 'the'], stream: true, stream_options: { include_usage: true } }],
  [COMPLETIONS, { prompt: [[1, 2, 3], [4, 5]], max_tokens: 3, repetition_penalty: 1.1, ignore_eos: true, user: 'u', presence_penalty: 0,
    frequency_penalty: 0, logit_bias: {}, best_of: 1, echo: false, suffix: null, top_k: -1 }],
  [CHAT, { model: 'kjv', messages: [{ role: 'system', content: 'Speak as the KJV.' }, { role: 'user', content: 'Who made the light?' }], max_tokens: 8, temperature: 0 }],
  [CHAT, { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }], name: 'a' }, { role: 'assistant', content: 'x' }, { role: 'developer', content: 'd' }],
    max_completion_tokens: 4, logprobs: true, top_logprobs: 3, n: 2, seed: 1 }],
  [CHAT, { messages: [{ role: 'user', content: 'Let there be' }], stream: true, stream_options: { include_usage: true }, max_tokens: 6, stop: '.' }],
];

let running: Promise<LlmcServer> | null = null;

/** kjv-tiny with a chat template, built once (cached per schema), loaded once per fuzz worker. */
async function start(): Promise<LlmcServer> {
  const { buildEngine } = await import('../../compiler/build.js');
  const dir = await cachedEngine('kjv-http', async (outDir) => {
    const ckpt = mkdtempSync(join(tmpdir(), 'llmc-fuzz-kjv-'));
    try {
      cpSync(join(repoRoot, 'examples', 'kjv-tiny'), ckpt, { recursive: true });
      const cfgPath = join(ckpt, 'tokenizer_config.json');
      writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), chat_template: TEMPLATE }));
      await buildEngine({ modelDir: ckpt, outDir, force: true, maxSeqLen: 64, maxBatchSize: 4, maxNumTokens: 64 });
    } finally {
      rmSync(ckpt, { recursive: true, force: true });
    }
  });
  const engine = await Engine.load(dir, { numThreads: 1 });
  const server = createLlmcServer(engine, { modelName: 'kjv', maxQueue: 256 });
  await server.app.ready();
  return server;
}

const oneLine = (s: unknown) => typeof s === 'string' && s.length > 0 && !/[\r\n]/.test(s);

/** Throws an Error (a finding) unless the response keeps the contract above; a clean 4xx is thrown as the
 *  LlmcError it stands for, so the harness counts it as a rejection. */
export function checkResponse(status: number, contentType: string, body: string, what: string): void {
  const bad = (why: string): never => { throw new Error(`${what}: ${why}: HTTP ${status} ${body.slice(0, 300)}`); };
  if (status === 200 && contentType.startsWith('text/event-stream')) {
    const events = body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    if (events.at(-1) !== '[DONE]') bad('the event stream does not end with [DONE]');
    for (const e of events.slice(0, -1)) {
      let doc: { error?: unknown; choices?: unknown };
      try {
        doc = JSON.parse(e) as typeof doc;
      } catch {
        return bad(`an event is not JSON (${e.slice(0, 80)})`);
      }
      if (doc.error !== undefined) bad('an error event in the stream');
      if (!Array.isArray(doc.choices)) bad('an event without choices');
    }
    return;
  }
  let doc: { choices?: unknown; error?: { message?: unknown; type?: unknown } };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    return bad('the body is not JSON');
  }
  if (status === 200) {
    if (!Array.isArray(doc.choices) || doc.choices.length === 0) bad('a 200 without choices');
  } else if (status >= 400 && status < 500) {
    if (!oneLine(doc.error?.message) || typeof doc.error?.type !== 'string') bad('a 4xx without a one-line OpenAI-shaped error');
    throw new LlmcError('BAD_ARGUMENT', `HTTP ${status}: ${String(doc.error!.message)}`);
  } else {
    bad('neither 200 nor 4xx');
  }
}

export const httpTarget: FuzzTarget = {
  name: 'http',
  what: 'llmc serve request bodies: POST /v1/completions and /v1/chat/completions through the fastify app (inject), kjv-tiny engine',
  corpus: () => SEEDS.map(([url, body]) => ({ tag: `${url} application/json`, files: { 'body.json': Buffer.from(JSON.stringify(body)) } })),
  mutate(rng: Rng, base: FuzzCase, corpus: readonly FuzzCase[]): FuzzCase {
    let [url, contentType] = base.tag!.split(' ');
    if (rng.chance(0.08)) url = url === CHAT ? COMPLETIONS : CHAT;        // a body sent to the other endpoint
    if (rng.chance(0.05)) contentType = rng.pick(CONTENT_TYPES);
    const c = rng.chance(0.95) ? mutateFiles(rng, base, corpus) : base;
    return { ...c, tag: `${url} ${contentType}` };
  },
  async run(c) {
    // A server that cannot start is a finding of every input, not a rejection (start may throw LlmcError).
    running ??= start().catch((e: unknown) => { throw new Error(`the http target could not start the server: ${(e as Error).message}`); });
    const server = await running;
    const [url, contentType] = c.tag!.split(' ');
    const res = await server.app.inject({
      method: 'POST', url, payload: c.files['body.json'] ?? '',
      headers: contentType === '-' ? {} : { 'content-type': contentType },
    });
    checkResponse(res.statusCode, String(res.headers['content-type'] ?? ''), res.body, `POST ${url} (${contentType})`);
  },
};
