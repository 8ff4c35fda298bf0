#!/usr/bin/env node
// Server overhead and batched decode, measured on one engine (docs/perf.md "Serving"):
//   1. TTFT of a 1-token request (a short prompt, max_tokens 1) through the library (Engine.submit, this process)
//      and through HTTP (`llmc serve` in a child process on 127.0.0.1, as deployed; a streamed /v1/completions
//      request, by fetch and by node:http on a kept-alive connection), interleaved, median of R runs each; and the on-CPU time of each side's main (JS) thread per
//      request, from /proc/PID/task/PID/schedstat: unlike wall times it does not count waiting for a core, so it
//      shows the server's cost on a loaded machine (Linux only; omitted elsewhere), and the HTTP client's (fetch,
//      in this process) for the same requests: the HTTP TTFT's excess over the library's is made of the server's
//      extra CPU, the client's, and the extra waits for a core (two more threads wake per request);
//   2. decode tokens/s of 1 request alone and of 8 requests at once (library, greedy, EOS ignored).
// Usage: node scripts/serve-overhead.mjs ENGINE [--runs 50] [--gen 64]
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine } from '../dist/runtime/index.js';

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
// Nanoseconds the main thread of process `pid` has run on a CPU (null where /proc has no schedstat).
const onCpuNs = (pid) => {
  const f = `/proc/${pid}/task/${pid}/schedstat`;
  return existsSync(f) ? Number(readFileSync(f, 'utf8').split(' ')[0]) : null;
};

const engine = await Engine.load(dir);
const vocab = engine.vocabSize;
const prompt = [1, 450, 7483, 310, 3444, 338].map((t) => t % vocab);
const bin = fileURLToPath(new URL('../bin/llmc.js', import.meta.url));
const child = spawn(process.execPath, [bin, 'serve', dir, '--port', '0', '--model-name', 'm'], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
child.stderr.on('data', (d) => { stderr += d; });
const exited = new Promise((r) => child.on('exit', r));
while (!/on http:\/\/127\.0\.0\.1:\d+/.test(stderr)) {
  if (child.exitCode !== null) throw new Error(`llmc serve exited: ${stderr}`);
  await new Promise((r) => setTimeout(r, 20));
}
const url = `${/on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)[1]}/v1/completions`;
const libraryTtft = async () => {
  const t0 = performance.now();
  const req = engine.submit(prompt, { maxNewTokens: 1, ignoreEos: true });
  let first = 0;
  for await (const c of req) if (c.token !== null && !first) first = performance.now() - t0;
  await req.result;
  return first;
};
const httpTtft = async () => {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, max_tokens: 1, temperature: 0, ignore_eos: true, stream: true }) });
  let first = 0;
  for await (const part of res.body) {
    if (!first && Buffer.from(part).toString().includes('"text"')) first = performance.now() - t0;
  }
  return first;
};
// The same request through node:http on a kept-alive connection: a lighter client than fetch (undici), to tell
// the client's share of the HTTP TTFT from the server's.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const nodeHttpTtft = () => new Promise((resolve, reject) => {
  const t0 = performance.now();
  const body = JSON.stringify({ prompt, max_tokens: 1, temperature: 0, ignore_eos: true, stream: true });
  const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
    let first = 0;
    res.on('data', (d) => { if (!first && d.includes('"text"')) first = performance.now() - t0; });
    res.on('end', () => resolve(first));
    res.on('error', reject);
  });
  req.on('error', reject);
  req.end(body);
});
// Interleaved (a library request, an HTTP request by fetch, one by node:http), so all see the same machine state.
const lib = [];
const http = [];
const nodeHttp = [];
let libCpu = 0;
let srvCpu = 0;
let clientCpu = 0;
for (let i = 0; i < runs + 5; i++) {
  let c0 = onCpuNs(process.pid);
  const l = await libraryTtft();
  const libNs = c0 === null ? 0 : onCpuNs(process.pid) - c0;
  c0 = onCpuNs(child.pid);
  const m0 = onCpuNs(process.pid);
  const h = await httpTtft();
  const srvNs = c0 === null ? 0 : onCpuNs(child.pid) - c0;
  const clientNs = m0 === null ? 0 : onCpuNs(process.pid) - m0;
  const n = await nodeHttpTtft();
  if (i >= 5) {
    lib.push(l);
    http.push(h);
    nodeHttp.push(n);
    libCpu += libNs;
    srvCpu += srvNs;
    clientCpu += clientNs;
  }
}
agent.destroy();
child.kill('SIGTERM');
await exited;
console.log(`1-token TTFT, median of ${runs}: library ${median(lib).toFixed(2)} ms, HTTP ${median(http).toFixed(2)} ms, difference ${(median(http) - median(lib)).toFixed(2)} ms; ` +
  `HTTP by node:http ${median(nodeHttp).toFixed(2)} ms, difference ${(median(nodeHttp) - median(lib)).toFixed(2)} ms`);
if (onCpuNs(process.pid) !== null) {
  console.log(`main-thread CPU per request: library (submit + token) ${(libCpu / runs / 1e6).toFixed(3)} ms, server (the whole HTTP request) ${(srvCpu / runs / 1e6).toFixed(3)} ms, ` +
    `HTTP client (fetch) ${(clientCpu / runs / 1e6).toFixed(3)} ms`);
}

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
