#!/usr/bin/env node
// Server overhead and batched decode, measured on one engine (docs/perf.md "Serving"):
//   1. TTFT of a 1-token request (a short prompt, max_tokens 1) through the library (Engine.submit) and through
//      HTTP (`llmc serve` in-process on 127.0.0.1, a streamed /v1/completions request), median of R runs each;
//   2. decode tokens/s of 1 request alone and of 8 requests at once (library, greedy, EOS ignored).
// Usage: node scripts/serve-overhead.mjs ENGINE [--runs 50] [--gen 64]
import { Engine } from '../dist/runtime/index.js';
import { createLlmcServer } from '../dist/server/app.js';

const args = process.argv.slice(2);
const dir = args[0];
if (!dir) {
  console.error('usage: node scripts/serve-overhead.mjs ENGINE [--runs 50] [--gen 64]');
  process.exit(2);
}
const flag = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const runs = flag('--runs', 50);
const gen = flag('--gen', 64);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const engine = await Engine.load(dir);
const vocab = engine.vocabSize;
const prompt = [1, 450, 7483, 310, 3444, 338].map((t) => t % vocab);
const srv = createLlmcServer(engine, { modelName: 'm', maxQueue: 16 });
await srv.app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${srv.app.server.address().port}/v1/completions`;
// Interleaved (one library request, then one HTTP request), so both see the same machine state.
const lib = [];
const http = [];
for (let i = 0; i < runs + 5; i++) {
  let t0 = performance.now();
  const req = engine.submit(prompt, { maxNewTokens: 1, ignoreEos: true });
  for await (const c of req) if (c.token !== null) break;
  const libMs = performance.now() - t0;
  await req.result;
  t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, max_tokens: 1, temperature: 0, ignore_eos: true, stream: true }) });
  let first = 0;
  for await (const part of res.body) {
    if (!first && Buffer.from(part).toString().includes('"text"')) first = performance.now() - t0;
  }
  if (i >= 5) {
    lib.push(libMs);
    http.push(first);
  }
}
await srv.drain();
console.log(`1-token TTFT, median of ${runs}: library ${median(lib).toFixed(2)} ms, HTTP ${median(http).toFixed(2)} ms, difference ${(median(http) - median(lib)).toFixed(2)} ms`);

const decodeRate = async (n) => {
  const reqs = Array.from({ length: n }, (_, i) => engine.submit([...prompt, 100 + i], { maxNewTokens: gen, ignoreEos: true }));
  const rs = await Promise.all(reqs.map((r) => r.result));
  // Decode phase: from the last first-token to the end, all n running together.
  const tokens = rs.reduce((a, r) => a + r.outputIds.length - 1, 0);
  const ms = Math.max(...rs.map((r) => r.queueMs + r.prefillMs + r.decodeMs)) - Math.max(...rs.map((r) => r.queueMs + r.prefillMs));
  return (tokens / ms) * 1000;
};
await decodeRate(1);
const one = await decodeRate(1);
const eight = await decodeRate(8);
console.log(`decode: 1 request ${one.toFixed(1)} tok/s, 8 at once ${eight.toFixed(1)} tok/s (${(eight / one).toFixed(2)}x)`);
engine.close();
