// `llmc serve` under load (loopback only, bounded): 1,000 streamed requests at concurrency 64 on the example model,
// 10 % of clients disconnecting mid-stream. Every other response is complete and well-formed, greedy and seeded
// ones equal a solo run, the KV blocks come back to the starting count, the server's RSS drift is printed (see
// docs/serving.md). Then bad requests (malformed JSON, wrong types, negative / huge max_tokens, unknown fields, an
// oversized body, a client that sends its headers slowly) each get a 4xx and the server keeps serving.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/runtime/engine.js';
import { repoRoot } from '../helpers/cli.js';
import { buildKjvEngine, waitFor } from './helpers.js';

const N = 1000;
const CONCURRENCY = 64;
let engineDir: string;
let child: ChildProcess;
let url: string;
let stderr = '';

const PROMPTS = ['And God said', 'In the beginning', 'The LORD is my shepherd', 'Blessed are the meek', 'And it came to pass',
  'For God so loved', 'Let there be light', 'Honour thy father', 'The heavens declare', 'Thou shalt not'];

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

beforeAll(async () => {
  engineDir = buildKjvEngine(['--max-batch-size', '64', '--max-seq-len', '128']);
  child = spawn(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'serve', engineDir, '--port', '0', '--max-queue', '1000',
    '--headers-timeout', '6000', '--model-name', 'kjv'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d) => { stderr += d; });
  await waitFor(() => /on http:\/\/127\.0\.0\.1:\d+/.test(stderr), 30_000);
  url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1];
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

interface Spec { prompt: string; max: number; temperature: number; seed: number; disconnectAfter: number | null }

function spec(i: number): Spec {
  const p = PROMPTS[i % PROMPTS.length];
  const max = 8 + (i % 5) * 2;
  if (i % 10 === 3) return { prompt: p, max: 100, temperature: 0, seed: 0, disconnectAfter: 1 + (i % 4) };  // 10 % go away
  if (i % 10 === 7) return { prompt: p, max, temperature: 0.8, seed: i % 3, disconnectAfter: null };         // seeded sampling
  return { prompt: p, max, temperature: 0, seed: 0, disconnectAfter: null };                                   // greedy
}

const key = (s: Spec) => `${s.prompt}|${s.max}|${s.temperature}|${s.seed}`;

async function streamOne(s: Spec): Promise<{ text: string; finish: string | null; tokens: number; done: boolean; wellFormed: boolean } | 'disconnected'> {
  const ac = new AbortController();
  // No resends: a 408 (headers not read in time) or a reset connection is a failure of the server under load
  // (docs/serving.md "Event loop and timeouts").
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: ac.signal,
    body: JSON.stringify({ model: 'kjv', prompt: s.prompt, max_tokens: s.max, temperature: s.temperature, seed: s.seed, ignore_eos: true,
      stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = '';
  let text = '';
  let finish: string | null = null;
  let tokens = -1;
  let done = false;
  let wellFormed = true;
  let chunks = 0;
  try {
    for await (const part of res.body!) {
      buf += decoder.decode(part as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (!line.startsWith('data: ')) { wellFormed = false; continue; }
        const data = line.slice(6);
        if (data === '[DONE]') { done = true; continue; }
        if (done) wellFormed = false;  // nothing after [DONE]
        const j = JSON.parse(data);
        if (j.object !== 'text_completion') wellFormed = false;
        if (j.usage) tokens = j.usage.completion_tokens;
        for (const c of j.choices) {
          text += c.text;
          if (c.finish_reason) finish = c.finish_reason;
        }
        if (s.disconnectAfter !== null && ++chunks >= s.disconnectAfter) {
          ac.abort();
          return 'disconnected';
        }
      }
    }
  } catch (e) {
    if (s.disconnectAfter !== null && (e as Error).name === 'AbortError') return 'disconnected';
    throw e;
  }
  return { text, finish, tokens, done, wellFormed: wellFormed && buf === '' };
}

test(`${N} streamed requests at concurrency ${CONCURRENCY}, 10 % disconnecting: complete, equal to solo runs, KV blocks back`, async () => {
  // Solo runs of every distinct request, on the library (one request at a time).
  const solo = new Map<string, string>();
  const engine = await Engine.load(engineDir, { numThreads: 1 });
  try {
    for (let i = 0; i < N; i++) {
      const s = spec(i);
      if (s.disconnectAfter !== null || solo.has(key(s))) continue;
      const r = await engine.generate(engine.encodePrompt(s.prompt), { maxNewTokens: s.max, ignoreEos: true, sampling: { temperature: s.temperature, seed: s.seed } });
      solo.set(key(s), r.text!);
    }
  } finally {
    engine.close();
  }
  const blocksAtStart = await metric('llmc_kv_cache_blocks_free');
  expect(blocksAtStart).toBe(await metric('llmc_kv_cache_blocks_total'));

  const run = async (count: number, offset: number) => {
    const results: Awaited<ReturnType<typeof streamOne>>[] = new Array(count);
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await streamOne(spec(offset + i));
      }
    }));
    return results;
  };
  await run(200, 0);  // warm-up: allocator pools, JIT, connection setup
  const rssBefore = await metric('process_resident_memory_bytes');
  const t0 = Date.now();
  const results = await run(N, 0);
  const seconds = (Date.now() - t0) / 1000;
  const lagMax = await metric('nodejs_eventloop_lag_max_seconds');  // since the last scrape: over the 1,000 requests

  let disconnected = 0;
  for (let i = 0; i < N; i++) {
    const s = spec(i);
    const r = results[i];
    if (s.disconnectAfter !== null) {
      expect(r).toBe('disconnected');
      disconnected++;
      continue;
    }
    if (r === 'disconnected') throw new Error(`request ${i} was cut`);
    expect(r.done && r.wellFormed).toBe(true);
    expect(r.finish).toBe('length');
    expect(r.tokens).toBe(s.max);
    expect(r.text).toBe(solo.get(key(s)));
  }
  expect(disconnected).toBe(N / 10);
  // Cancelled requests free their blocks at the next step: everything is back once the server is idle.
  const t1 = Date.now();
  while ((await metric('llmc_requests_running')) + (await metric('llmc_requests_waiting')) > 0 ||
    (await metric('llmc_kv_cache_blocks_free')) !== blocksAtStart) {
    if (Date.now() - t1 > 10_000) throw new Error('KV blocks did not come back');
    await new Promise((r) => setTimeout(r, 20));
  }
  const rssAfter = await metric('process_resident_memory_bytes');
  const drift = (rssAfter - rssBefore) / 2 ** 20;
  process.stderr.write(`[load] ${N} requests in ${seconds.toFixed(1)} s; server RSS ${(rssBefore / 2 ** 20).toFixed(1)} -> ${(rssAfter / 2 ** 20).toFixed(1)} MiB (drift ${drift.toFixed(1)} MiB); ` +
    `server event-loop lag max ${(lagMax * 1000).toFixed(0)} ms; load average ${loadavg()[0].toFixed(1)}\n`);
  expect(drift).toBeLessThan(64);
}, 120_000);

describe('bad requests get a 4xx and the server keeps serving', () => {
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${url}/v1/completions`, { method: 'POST', headers, body });
  const ok = async () => {
    const r = await post(JSON.stringify({ model: 'kjv', prompt: 'And God said', max_tokens: 3 }));
    expect(r.status).toBe(200);
    expect((await r.json()).choices[0].text.length).toBeGreaterThan(0);
  };

  test.each([
    ['malformed JSON', '{"prompt": "x", "max_tokens": 3', 400],
    ['not an object', '[1, 2, 3]', 400],
    ['wrong type', JSON.stringify({ prompt: 'x', max_tokens: 'three' }), 400],
    ['prompt of the wrong type', JSON.stringify({ prompt: { text: 'x' } }), 400],
    ['negative max_tokens', JSON.stringify({ prompt: 'x', max_tokens: -5 }), 400],
    ['huge max_tokens', JSON.stringify({ prompt: 'x', max_tokens: 2 ** 40 }), 400],
    ['unknown field', JSON.stringify({ prompt: 'x', max_tokens: 3, turbo: true }), 400],
    ['out-of-vocabulary token ids', JSON.stringify({ prompt: [1, 999999], max_tokens: 3 }), 400],
    ['an empty body', '', 400],
    ['an oversized body', JSON.stringify({ prompt: 'x'.repeat(2 * 1024 * 1024) }), 413],
  ])('%s', async (_name, body, status) => {
    const r = await post(body);
    expect(r.status).toBe(status);
    const j = await r.json();
    expect(typeof j.error.message).toBe('string');
    await ok();
  });

  test('a client that sends its headers slowly is cut off (408) while others are served', async () => {
    const { port } = new URL(url);
    const sock = connect(Number(port), '127.0.0.1');
    let got = '';
    sock.on('data', (d) => { got += d; });
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    await new Promise<void>((r) => sock.on('connect', () => r()));
    sock.write('POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n');  // and never the rest
    await ok();
    await closed;
    expect(got).toMatch(/^HTTP\/1\.1 408/);
    await ok();
  }, 30_000);
});
