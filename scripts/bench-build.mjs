#!/usr/bin/env node
// Build-throughput benchmark (docs/perf.md): writes a LLaMA checkpoint of a given shape with random float16
// weights (TinyLlama-1.1B's shape by default) and builds it, printing the build's streaming figures (read/write
// GB/s, input hashing, peak RSS) for a cold build, a warm rebuild ("up to date" from size + mtime) and a
// --rehash rebuild. The build's streaming line has each thread's CPU seconds (main: read + write; workers: the
// engine file's and the inputs' sha256); the load average is printed next to them (a shared machine's wall clock
// says little). --inline-engine-hash hashes the engine file on the main thread (the way before 2026-12-04), to
// compare; --repeat N builds N times (cold) and prints every run.
//   node scripts/bench-build.mjs [--dir /tmp/llmc-bench-1b] [--layers 22] [--hidden 2048] [--ffn 5632]
//                                [--heads 32] [--kv-heads 4] [--vocab 32000] [--dtype float16] [--engine DIR]
//                                [--inline-engine-hash] [--repeat N]
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const dir = opt('dir', '/tmp/llmc-bench-1b');
const L = Number(opt('layers', 22)), H = Number(opt('hidden', 2048)), F = Number(opt('ffn', 5632));
const NH = Number(opt('heads', 32)), NKV = Number(opt('kv-heads', 4)), V = Number(opt('vocab', 32000));
const dtype = opt('dtype', 'float16');
const hd = H / NH;

function writeCheckpoint() {
  const ckpt = join(dir, 'ckpt');
  mkdirSync(ckpt, { recursive: true });
  const tensors = [['model.embed_tokens.weight', [V, H]]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    tensors.push([`${p}.input_layernorm.weight`, [H]], [`${p}.self_attn.q_proj.weight`, [NH * hd, H]],
      [`${p}.self_attn.k_proj.weight`, [NKV * hd, H]], [`${p}.self_attn.v_proj.weight`, [NKV * hd, H]],
      [`${p}.self_attn.o_proj.weight`, [H, NH * hd]], [`${p}.post_attention_layernorm.weight`, [H]],
      [`${p}.mlp.gate_proj.weight`, [F, H]], [`${p}.mlp.up_proj.weight`, [F, H]], [`${p}.mlp.down_proj.weight`, [H, F]]);
  }
  tensors.push(['model.norm.weight', [H]], ['lm_head.weight', [V, H]]);
  const header = {};
  let off = 0;
  for (const [name, shape] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'F16', shape, data_offsets: [off, off + n] };
    off += n;
  }
  let hjson = JSON.stringify(header);
  hjson += ' '.repeat((8 - (hjson.length % 8)) % 8);
  const file = join(ckpt, 'model.safetensors');
  const fd = openSync(file, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hjson.length));
  writeSync(fd, len);
  writeSync(fd, Buffer.from(hjson));
  // Random f16 values in about [-0.03, 0.03] (exponents 2^-10..2^-6, random sign and mantissa): one 64 MiB block
  // reused with a rotating start, so no two tensors are byte-identical.
  const block = Buffer.alloc(64 << 20);
  let s = 0x12345678;
  for (let i = 0; i < block.length; i += 2) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const h = ((s >>> 31) << 15) | ((5 + ((s >>> 24) & 3)) << 10) | ((s >>> 8) & 0x3ff);
    block.writeUInt16LE(h, i);
  }
  let left = off, k = 0;
  while (left > 0) {
    const start = (k++ * 4098) % (block.length / 2);
    const n = Math.min(left, block.length - start);
    writeSync(fd, block, start, n);
    left -= n;
  }
  closeSync(fd);
  writeFileSync(join(ckpt, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: H, intermediate_size: F, num_hidden_layers: L,
    num_attention_heads: NH, num_key_value_heads: NKV, vocab_size: V, max_position_embeddings: 2048, rms_norm_eps: 1e-5,
    rope_theta: 10000, hidden_act: 'silu', tie_word_embeddings: false, torch_dtype: 'float16',
  }, null, 2));
  return { ckpt, bytes: off };
}

const ckpt = join(dir, 'ckpt');
let bytes;
if (!existsSync(join(ckpt, 'model.safetensors'))) {
  const t0 = Date.now();
  ({ bytes } = writeCheckpoint());
  console.log(`wrote a ${L}-layer, hidden ${H} checkpoint (${(bytes / 1e9).toFixed(2)} GB f16) to ${ckpt} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const engine = opt('engine', join(dir, 'engine'));   // e.g. /dev/shm/e: takes the disk's write speed out
rmSync(engine, { recursive: true, force: true });
const llmc = (extra) => {
  const t0 = performance.now();
  // CPU seconds (user + sys, all threads) from /usr/bin/time when present: on a shared machine they say more
  // than the wall clock.
  const cmd = [process.execPath, join(root, 'bin', 'llmc.js'), 'build', ckpt, '-o', engine, '--dtype', dtype, '--max-seq-len', '2048', ...extra];
  const timed = existsSync('/usr/bin/time');
  const env = args.includes('--inline-engine-hash') ? { ...process.env, LLMC_TEST_ENGINE_HASH_WORKER_BYTES: String(2 ** 52) } : process.env;
  const r = timed ? spawnSync('/usr/bin/time', ['-f', 'cpu %U user + %S sys s', ...cmd], { encoding: 'utf8', env })
    : spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(r.stdout + r.stderr);
  const cpu = timed ? (/cpu .*$/m.exec(r.stderr)?.[0] ?? '') : '';
  return { s: (performance.now() - t0) / 1000, out: `${r.stdout}\n${cpu}` };
};
// Warm the page cache first (the figure is for a warm cache): read the checkpoint once.
spawnSync('cat', [join(ckpt, 'model.safetensors')], { stdio: ['ignore', 'ignore', 'inherit'] });
console.log(`${new Date().toISOString()}; ${cpus()[0]?.model ?? '?'} x ${cpus().length}${args.includes('--inline-engine-hash') ? '; engine hashed on the main thread' : ''}`);
const repeat = Number(opt('repeat', 1));
const runs = [...Array.from({ length: repeat }, (_, i) => [repeat > 1 ? `build ${i + 1}` : 'build', []]),
  ['rebuild (up to date)', []], ['rebuild --rehash', ['--rehash']]];
for (const [label, extra] of runs) {
  if (label.startsWith('build')) rmSync(engine, { recursive: true, force: true });
  const load = loadavg()[0].toFixed(2);
  const { s, out } = llmc(extra);
  const lines = out.split('\n').filter((l) => /streamed weights|up to date|wrote |^cpu /.test(l));
  console.log(`${label}: ${s.toFixed(2)} s wall (load average ${load} before, ${loadavg()[0].toFixed(2)} after)\n  ${lines.join('\n  ')}`);
}
