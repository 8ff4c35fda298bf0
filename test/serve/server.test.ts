// `llmc serve` through the official `openai` client and raw HTTP, on 127.0.0.1: completions and chat (the chat
// template from the checkpoint), streaming ending in [DONE], usage, n, stop, seed, logprobs, models, health,
// metrics; OpenAI-shaped errors (400 / 401 / 404 / 429); a disconnecting client frees its KV blocks; SIGTERM drains.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import OpenAI from 'openai';
import { repoRoot } from '../helpers/cli.js';
import { buildKjvEngine, sseData, startServer, waitFor, type Running } from './helpers.js';

let engineDir: string;
let s: Running;
let client: OpenAI;

beforeAll(async () => {
  engineDir = buildKjvEngine(['--max-batch-size', '4']);
  s = await startServer(engineDir);
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => s?.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: Buffer.isBuffer(body) ? new Uint8Array(body) : typeof body === 'string' ? body : JSON.stringify(body) });

describe('completions and chat through the openai client', () => {
  test('a greedy completion equals the library call, with usage', async () => {
    const ids = s.engine.encodePrompt('And God said');
    const lib = await s.engine.generate(ids, { maxNewTokens: 12, ignoreEos: true });
    const r = await client.completions.create({ model: 'kjv', prompt: 'And God said', max_tokens: 12, temperature: 0, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(r.object).toBe('text_completion');
    expect(r.choices[0].text).toBe(lib.text);
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage).toEqual({ prompt_tokens: ids.length, completion_tokens: 12, total_tokens: ids.length + 12 });
  });

  test('a streamed completion gives the same text; include_usage adds a usage chunk', async () => {
    const body = { model: 'kjv', prompt: 'In the beginning', max_tokens: 16, temperature: 0 };
    const full = await client.completions.create(body);
    const stream = await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      if (chunk.choices.length > 0) {
        text += chunk.choices[0].text;
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(full.choices[0].text);
    expect(finish).toBe(full.choices[0].finish_reason);
    expect(usage).toEqual(full.usage);
  });

  test('chat uses the checkpoint chat template; streamed deltas add up; raw SSE ends with data: [DONE]', async () => {
    const messages = [{ role: 'system' as const, content: 'Speak as the KJV.' }, { role: 'user' as const, content: 'Who made the light?' }];
    const ids = s.engine.tokenizer!.encode('<s>system: Speak as the KJV.\nuser: Who made the light?\nassistant:', false);
    const r = await client.chat.completions.create({ model: 'kjv', messages, max_tokens: 10, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.usage?.prompt_tokens).toBe(ids.length);
    expect(r.choices[0].message.role).toBe('assistant');
    const lib = await s.engine.generate(ids, { maxNewTokens: 10 });
    expect(r.choices[0].message.content).toBe(lib.text);
    const res = await post('/v1/chat/completions', { model: 'kjv', messages, max_tokens: 10, temperature: 0, stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const data = await sseData(res);
    expect(data[data.length - 1]).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(r.choices[0].message.content);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe(r.choices[0].finish_reason);
  });

  test('streamed chat (n = 2, usage) through the openai client equals the non-streamed answer; the raw stream is only `data:` events', async () => {
    const body = { model: 'kjv', messages: [{ role: 'user' as const, content: 'Who made the light?' }], max_tokens: 12, temperature: 0, n: 2 };
    const full = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    const text = ['', ''];
    const finish: (string | null)[] = [null, null];
    const ids = new Set<string>();
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      expect(chunk.object).toBe('chat.completion.chunk');
      for (const c of chunk.choices) {
        text[c.index] += c.delta.content ?? '';
        finish[c.index] = c.finish_reason ?? finish[c.index];
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(ids.size).toBe(1);
    expect(text).toEqual(full.choices.map((c) => c.message.content));
    expect(finish).toEqual(full.choices.map((c) => c.finish_reason));
    expect(usage).toEqual(full.usage);

    // The bytes: `data: JSON\n\n` events only (no id:/event:/retry: lines, no comments), then `data: [DONE]\n\n`.
    const res = await post('/v1/completions', { model: 'kjv', prompt: 'And God said', max_tokens: 6, temperature: 0, ignore_eos: true, n: 2,
      logprobs: 1, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const raw = await res.text();
    expect(raw.endsWith('\n\ndata: [DONE]\n\n')).toBe(true);
    const events = raw.slice(0, -2).split('\n\n');
    for (const e of events) expect(e).toMatch(/^data: [^\n]+$/);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    const last = chunks.pop();
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBe(12);
    expect(chunks.every((c) => c.usage === null && c.choices.length === 1 && c.object === 'text_completion')).toBe(true);
    for (const index of [0, 1]) {
      const mine = chunks.filter((c) => c.choices[0].index === index).map((c) => c.choices[0]);
      expect(mine.map((c) => c.finish_reason)).toEqual([...new Array(mine.length - 1).fill(null), 'length']);
      expect(mine.slice(0, -1).flatMap((c) => c.logprobs.tokens)).toHaveLength(6);
    }
  });

  test('n choices, seed reproducibility, stop strings', async () => {
    const body = { model: 'kjv', prompt: 'And the LORD said', max_tokens: 20, temperature: 1, seed: 5, n: 3 };
    const a = await client.completions.create(body);
    const b = await client.completions.create(body);
    expect(a.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(a.choices.map((c) => c.text)).toEqual(b.choices.map((c) => c.text));
    expect(new Set(a.choices.map((c) => c.text)).size).toBeGreaterThan(1);  // the choices use seed, seed+1, ...
    const free = await client.completions.create({ model: 'kjv', prompt: 'And God said', max_tokens: 30, temperature: 0 });
    const word = free.choices[0].text.trim().split(/\s+/)[2];
    const stopped = await client.completions.create({ model: 'kjv', prompt: 'And God said', max_tokens: 30, temperature: 0, stop: [word] });
    expect(stopped.choices[0].finish_reason).toBe('stop');
    expect(stopped.choices[0].text).toBe(free.choices[0].text.slice(0, free.choices[0].text.indexOf(word)));
  });

  test('logprobs: completions (top N) and chat (top_logprobs)', async () => {
    const c = await client.completions.create({ model: 'kjv', prompt: 'And God said', max_tokens: 5, temperature: 0, logprobs: 2 });
    const lp = c.choices[0].logprobs!;
    expect(lp.tokens).toHaveLength(5);
    expect(lp.tokens!.join('')).toBe(c.choices[0].text);
    expect(lp.token_logprobs!.every((x) => x <= 0)).toBe(true);
    expect(lp.top_logprobs!.every((t) => Object.keys(t).length === 2)).toBe(true);
    const chat = await client.chat.completions.create({ model: 'kjv', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = chat.choices[0].logprobs!.content!;
    expect(content).toHaveLength(4);
    expect(content[0].top_logprobs).toHaveLength(3);
    expect(content[0].top_logprobs[0].token).toBe(content[0].token);
  });

  test('GET /v1/models, /health, /metrics', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['kjv']);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    const m = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of ['llmc_requests_total', 'llmc_time_to_first_token_seconds_bucket', 'llmc_time_per_output_token_seconds',
      'llmc_inter_token_latency_seconds', 'llmc_e2e_request_latency_seconds', 'llmc_prompt_tokens_total', 'llmc_generation_tokens_total',
      'llmc_requests_running', 'llmc_requests_waiting', 'llmc_kv_cache_blocks_used', 'llmc_kv_cache_blocks_free', 'llmc_prefix_cache_hit_rate',
      'process_resident_memory_bytes']) {
      expect(m).toContain(name);
    }
    expect(m).toMatch(/llmc_requests_total\{endpoint="\/v1\/completions",status="200"\} [1-9]/);
  });
});

describe('errors in OpenAI shape', () => {
  const expectError = async (res: Response, status: number, pattern: RegExp) => {
    expect(res.status).toBe(status);
    const body = await res.json();
    expect(typeof body.error.message).toBe('string');
    expect(typeof body.error.type).toBe('string');
    expect(body.error.message).toMatch(pattern);
    return body;
  };

  test('bad JSON, wrong types, unknown fields -> 400', async () => {
    await expectError(await post('/v1/completions', '{"prompt": "x",'), 400, /not valid JSON/);
    const latin1 = Buffer.concat([Buffer.from('{"prompt": "caf'), Buffer.from([0xe9]), Buffer.from('", "max_tokens": 1}')]);
    await expectError(await post('/v1/completions', latin1), 400, /not valid UTF-8/);
    await expectError(await post('/v1/completions', { prompt: 'x', max_tokens: '5' }), 400, /max_tokens.*integer/);
    await expectError(await post('/v1/completions', { prompt: 'x', max_tokens: -1 }), 400, /max_tokens.*>= 1/);
    await expectError(await post('/v1/completions', { prompt: 'x', temperature: 'hot' }), 400, /temperature/);
    await expectError(await post('/v1/completions', { prompt: 'x', frobnicate: true }), 400, /unknown field `frobnicate`/);
    await expectError(await post('/v1/completions', { max_tokens: 3 }), 400, /missing required field `prompt`/);
    await expectError(await post('/v1/chat/completions', { messages: [{ role: 'user' }] }), 400, /content/);
  });

  test('a prompt longer than the engine allows -> 400 naming both numbers', async () => {
    const body = await expectError(await post('/v1/completions', { prompt: 'And God said', max_tokens: 100000 }), 400,
      /maximum context length is 512 tokens.*100004 tokens/);
    expect(body.error.code).toBe('context_length_exceeded');
    await expect(client.completions.create({ model: 'kjv', prompt: 'x '.repeat(600), max_tokens: 1 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  test('unknown model -> 404; unknown route -> 404', async () => {
    await expect(client.completions.create({ model: 'gpt-4', prompt: 'x', max_tokens: 1 })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expectError(await fetch(`${s.url}/v1/embeddings`, { method: 'POST' }), 404, /no route/);
  });

  test('--api-key: a missing or wrong bearer token -> 401, the right one works', async () => {
    const keyed = await startServer(engineDir, { apiKey: 'sekrit' });
    try {
      const bad = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
      await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      expect((await fetch(`${keyed.url}/v1/models`)).status).toBe(401);
      const good = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sekrit', maxRetries: 0 });
      expect((await good.models.list()).data[0].id).toBe('kjv');
    } finally {
      await keyed.close();
    }
  });

  test('queue full -> 429 with Retry-After, then the server serves again', async () => {
    const small = await startServer(engineDir, { maxQueue: 1 });
    try {
      const body = { prompt: 'And God said', max_tokens: 200, temperature: 0, ignore_eos: true };
      const url = `${small.url}/v1/completions`;
      const send = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const first = [send(), send(), send(), send(), send()];  // 4 run + 1 queued
      await waitFor(() => small.engine.executor.active === 5);
      const res = await send();
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await res.json()).error.code).toBe('queue_full');
      for (const r of await Promise.all(first)) expect(r.status).toBe(200);
      expect((await send()).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});

test('a client that disconnects mid-stream cancels its request and frees its KV blocks', async () => {
  const total = s.engine.stats().kvBlocksTotal;
  const ac = new AbortController();
  const res = await fetch(`${s.url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: ac.signal,
    body: JSON.stringify({ prompt: 'And God said', max_tokens: 400, temperature: 0, ignore_eos: true, stream: true }),
  });
  const reader = res.body!.getReader();
  await reader.read();
  ac.abort();
  await waitFor(() => s.engine.executor.active === 0 && s.engine.stats().running === 0);
  await waitFor(() => s.engine.stats().kvBlocksFree === total);
  expect(s.server.inFlight).toBe(0);
});

test('a client that goes away before its first event (n = 3) frees all three sequences', async () => {
  const total = s.engine.stats().kvBlocksTotal;
  const ac = new AbortController();
  const sent = fetch(`${s.url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: ac.signal,
    body: JSON.stringify({ prompt: 'And God said, Let there be light: and there was light. '.repeat(8), max_tokens: 300, n: 3, temperature: 0, ignore_eos: true, stream: true }),
  }).then((r) => r.text());
  await waitFor(() => s.engine.executor.active === 3, 10_000);
  ac.abort();
  await expect(sent).rejects.toThrow();
  await waitFor(() => s.engine.executor.active === 0 && s.engine.stats().running === 0);
  await waitFor(() => s.engine.stats().kvBlocksFree === total);
  expect(s.server.inFlight).toBe(0);
});

test('SIGTERM drains: the running stream completes, the process exits 0', async () => {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'serve', engineDir, '--port', '0', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await waitFor(() => /on http:\/\/127\.0\.0\.1:\d+/.test(stderr), 20_000);
  const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1];
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'And God said', max_tokens: 120, temperature: 0, ignore_eos: true, stream: true }),
  });
  const reader = res.body!.getReader();
  let text = new TextDecoder().decode((await reader.read()).value);
  child.kill('SIGTERM');
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
  expect(text.trim().endsWith('data: [DONE]')).toBe(true);
  expect(text).toContain('"finish_reason":"length"');
  expect(await exited).toBe(0);
  expect(stderr).toMatch(/SIGTERM: draining/);
  await expect(fetch(`${url}/health`)).rejects.toThrow();
});

test('--headers-timeout counts from a request\'s first byte: a kept-alive connection may idle past it, a silent one gets 408', async () => {
  const short = await startServer(engineDir, { headersTimeoutMs: 300 });
  try {
    const { port } = new URL(short.url);
    const open = async () => {
      const sock = connect(Number(port), '127.0.0.1');
      await new Promise<void>((r) => sock.on('connect', () => r()));
      let got = '';
      sock.on('data', (d) => { got += d; });
      const closed = new Promise<void>((r) => sock.on('close', () => r()));
      return { sock, closed, got: () => got };
    };
    const kept = await open();
    const get = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    kept.sock.write(get);
    await waitFor(() => /\r\n\r\n\{"status":"ok"\}/.test(kept.got()));
    expect(kept.got()).toMatch(/^HTTP\/1\.1 200/);
    expect(kept.got()).toMatch(/Keep-Alive: timeout=72/i);  // longer than clients keep idle connections
    await new Promise((r) => setTimeout(r, 1200));  // idle 4x the headers timeout
    kept.sock.write(get);
    await waitFor(() => (kept.got().match(/HTTP\/1\.1 200/g) ?? []).length === 2);
    kept.sock.destroy();

    const silent = await open();
    await silent.closed;
    expect(silent.got()).toMatch(/^HTTP\/1\.1 408/);
  } finally {
    await short.close();
  }
});
