// The async request API (Engine.submit over the native executor thread) on the example model: greedy and seeded
// requests give the same tokens alone or batched with others, cancel frees the KV blocks, a shared prompt prefix
// is served from the prefix cache with the same tokens, a KV cache too small for the batch preempts and recomputes
// with the same tokens, and `import { Engine } from 'llmc'` works from a Node app.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/runtime/engine.js';
import type { GenerationResult } from '../../src/runtime/generation.js';
import { llmc, repoRoot, tempDir } from '../helpers/cli.js';

const root = tempDir('llmc-serve-lib-');
const engineDir = join(root, 'kjv');
let engine: Engine;

beforeAll(async () => {
  const r = llmc(['build', join(repoRoot, 'examples', 'kjv-tiny'), '-o', engineDir, '--max-batch-size', '16']);
  if (r.code !== 0) throw new Error(r.stderr);
  engine = await Engine.load(engineDir, { numThreads: 2 });
});
afterAll(() => engine?.close());

const prompts = ['And God said', 'In the beginning God created', 'The LORD is my shepherd', 'Blessed are the', 'And it came to pass'];
const greedy = { maxNewTokens: 24, ignoreEos: true };
const sampled = (seed: number) => ({ maxNewTokens: 24, ignoreEos: true, sampling: { temperature: 0.9, topP: 0.95, topK: 40, seed } });

test('a greedy request gives the same tokens alone and batched with others', async () => {
  const alone = await engine.generate(engine.encodePrompt(prompts[0]), greedy);
  const reqs = prompts.map((p, i) => engine.submit(engine.encodePrompt(p), i === 0 ? greedy : sampled(i)));
  const results = await Promise.all(reqs.map((r) => r.result));
  expect(results[0].outputIds).toEqual(alone.outputIds);
  expect(results[0].outputIds).toHaveLength(24);
  expect(engine.stats().steps).toBeGreaterThan(0);
});

test('a seeded sampled request gives the same tokens whatever runs beside it', async () => {
  const alone = await engine.generate(engine.encodePrompt(prompts[1]), sampled(7));
  const crowd = prompts.map((p, i) => engine.submit(engine.encodePrompt(p), i === 1 ? sampled(7) : sampled(100 + i)));
  const other = prompts.map((p, i) => engine.submit(engine.encodePrompt(p), i === 1 ? sampled(7) : greedy));
  const a = await Promise.all(crowd.map((r) => r.result));
  const b = await Promise.all(other.map((r) => r.result));
  expect(a[1].outputIds).toEqual(alone.outputIds);
  expect(b[1].outputIds).toEqual(alone.outputIds);
  const otherSeed = await engine.generate(engine.encodePrompt(prompts[1]), sampled(8));
  expect(otherSeed.outputIds).not.toEqual(alone.outputIds);
});

test('the stream yields every token in order with its text; the chunks add up to the result', async () => {
  const req = engine.submit(engine.encodePrompt(prompts[2]), { ...greedy, logprobs: true, topLogprobs: 3 });
  const tokens: number[] = [];
  let text = '';
  for await (const c of req) {
    if (c.token !== null) tokens.push(c.token);
    text += c.text;
    if (c.token !== null) {
      expect(c.logprob?.top).toHaveLength(3);
      expect(c.logprob!.logprob).toBeLessThanOrEqual(0);
      expect(c.logprob!.top[0].token).toBe(c.token);  // greedy: the most likely token
    }
  }
  const r = await req.result;
  expect(tokens).toEqual(r.outputIds);
  expect(text).toBe(r.text);
});

test('cancel stops a request at once and its KV blocks come back', async () => {
  const total = engine.stats().kvBlocksTotal;
  const req = engine.submit(engine.encodePrompt(prompts[3]), { maxNewTokens: 400, ignoreEos: true });
  let n = 0;
  for await (const c of req) {
    if (c.token !== null && ++n === 3) req.cancel();
  }
  const r = await req.result;
  expect(r.stopReason).toBe('cancelled');
  // The thread runs at most two batches ahead of JS (delivery_gate.h), plus the step in progress.
  expect(r.outputIds.length).toBeLessThanOrEqual(3 + 3);
  const s = engine.stats();
  expect(s.kvBlocksFree).toBe(total);
  expect(s.running + s.waiting).toBe(0);
});

test('while the event loop is blocked the executor thread stops two steps ahead, then goes on', async () => {
  const reqs = prompts.map((p) => engine.submit(engine.encodePrompt(p), { maxNewTokens: 120, ignoreEos: true }));
  for await (const c of reqs[0]) if (c.token !== null) break;  // every request is running
  const before = engine.stats().steps;
  const t0 = Date.now();
  while (Date.now() - t0 < 300);  // a blocked event loop: without the gate, a step a millisecond piles up
  const during = engine.stats().steps - before;
  expect(during).toBeLessThanOrEqual(3);  // two batches untaken + a stale count of one
  const results = await Promise.all(reqs.slice(1).map((r) => r.result));
  for (const r of results) expect(r.outputIds).toHaveLength(120);
});

test('a shared prompt prefix is served from the prefix cache, with the same tokens as without it', async () => {
  const prefix = 'And God said, Let there be light: and there was light. And God saw the light, that it was good: and God divided';
  const ids = engine.encodePrompt(prefix + ' the light from the darkness.');
  const fresh = await engine.generate(ids, { ...greedy, noPrefixCache: true });
  const first = await engine.generate(ids, greedy);
  const again = await engine.generate(ids, greedy);
  expect(again.cachedTokens).toBeGreaterThanOrEqual(16);
  expect(again.cachedTokens).toBeLessThan(ids.length);
  expect(first.outputIds).toEqual(fresh.outputIds);
  expect(again.outputIds).toEqual(fresh.outputIds);
  const s = engine.stats();
  expect(s.prefixBlocksHit).toBeGreaterThan(0);
  expect(s.promptTokensCached).toBeGreaterThan(0);
});

test('a KV cache too small for the batch preempts and recomputes, with the same tokens', async () => {
  // 64 KiB per 16-token block on this model: 10 blocks hold 160 positions; six 60-position requests need 24.
  const small = await Engine.load(engineDir, { numThreads: 2, kvCacheBytes: 10 * 65536 });
  try {
    expect(small.info().kv_block_count).toBe(10);
    const long = { maxNewTokens: 48, ignoreEos: true };
    const ps = [...prompts, 'For God so loved'].map((p) => engine.encodePrompt(p));
    const solo: GenerationResult[] = [];
    for (const p of ps) solo.push(await engine.generate(p, long));
    const results = await Promise.all(ps.map((p, i) => small.submit(p, i % 2 ? sampled(i) : long).result));
    const soloSampled = await Promise.all(ps.map((p, i) => (i % 2 ? engine.generate(p, sampled(i)) : Promise.resolve(solo[i]))));
    for (let i = 0; i < ps.length; i++) expect(results[i].outputIds).toEqual(soloSampled[i].outputIds);
    const s = small.stats();
    expect(s.preemptions).toBeGreaterThan(0);
    expect(s.kvBlocksFree).toBe(10);
  } finally {
    small.close();
  }
});

test("import { Engine } from 'llmc' works in a Node app", () => {
  const app = tempDir('llmc-app-');
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(repoRoot, join(app, 'node_modules', 'llmc'));
  writeFileSync(join(app, 'app.mjs'), `import { Engine } from 'llmc';
const e = await Engine.load(${JSON.stringify(engineDir)});
const r = await e.submit(e.encodePrompt('And God said'), { maxNewTokens: 4 }).result;
console.log(typeof Engine, r.outputIds.length);
e.close();
`);
  const r = spawnSync(process.execPath, ['app.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe('function 4');
});

test('the logits buffer holds max_logit_rows rows: a longer prompt writes its logits file in chunks, equal to one chunk', async () => {
  expect(engine.info().max_logit_rows).toBe(64);  // max(max_batch_size 16, 64), not max_num_tokens 512
  // The runtime allocates the build's two arenas: arena_bytes is the manifest's activation_bytes, the logits arena
  // 64 rows of the plan's logits width (the vocab-wide logits are not at max_num_tokens rows).
  const mp = JSON.parse(readFileSync(join(engineDir, 'config.json'), 'utf8')).memory_plan;
  expect(mp.max_logit_rows).toBe(64);
  expect(engine.info().arena_bytes).toBe(mp.activation_bytes);
  expect(engine.info().logits_arena_bytes).toBe(4 * 64 * mp.arena_logit_floats_per_row);
  expect(mp.arena_logit_floats_per_row).toBeGreaterThanOrEqual(4096);  // vocab 4096
  expect(mp.activation_bytes).toBe(4 * (512 * mp.arena_floats_per_token + 64 * mp.arena_logit_floats_per_row));
  const wide = join(root, 'kjv-wide');
  const b = llmc(['build', join(repoRoot, 'examples', 'kjv-tiny'), '-o', wide, '--max-batch-size', '160']);
  if (b.code !== 0) throw new Error(b.stderr);
  const big = await Engine.load(wide, { numThreads: 2 });
  try {
    expect(big.info().max_logit_rows).toBe(160);
    const ids = engine.encodePrompt('And God said, Let there be light: and there was light. '.repeat(12)).slice(0, 150);
    const a = join(root, 'chunked.f32');
    const c = join(root, 'whole.f32');
    const ra = await engine.generate(ids, { maxNewTokens: 3, ignoreEos: true, logitsPath: a });
    const rc = await big.generate(ids, { maxNewTokens: 3, ignoreEos: true, logitsPath: c });
    expect(ra.logitsShape).toEqual([152, 4096]);
    expect(ra.outputIds).toEqual(rc.outputIds);
    const x = new Float32Array(readFileSync(a).buffer.slice(0));
    const y = new Float32Array(readFileSync(c).buffer.slice(0));
    expect(x.length).toBe(152 * 4096);
    let maxDiff = 0;
    for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
    expect(maxDiff).toBeLessThan(1e-3);
  } finally {
    big.close();
  }
});
