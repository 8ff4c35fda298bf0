#!/usr/bin/env node
// Writes a random-weight LLaMA-architecture HF checkpoint (config.json, generation_config.json, model.safetensors)
// for benchmarks: `node scripts/make-random-checkpoint.mjs OUT_DIR [--preset llama-110m] [--dtype float32|float16]`.
// Weights are N(0, 0.02) (norms 1), streamed to disk tensor by tensor.
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PRESETS = {
  // The spine issue's bench shape: about 110M parameters.
  'llama-110m': { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 12, intermediate_size: 2048, vocab_size: 32000, max_position_embeddings: 2048 },
};

const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith('--'));
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const preset = opt('--preset', 'llama-110m');
const dtype = opt('--dtype', 'float32');
if (!out || !PRESETS[preset] || !['float32', 'float16'].includes(dtype)) {
  console.error('usage: make-random-checkpoint.mjs OUT_DIR [--preset llama-110m] [--dtype float32|float16]');
  process.exit(2);
}
const c = PRESETS[preset];
const config = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', ...c, rms_norm_eps: 1e-5, rope_theta: 10000.0,
  hidden_act: 'silu', tie_word_embeddings: true, torch_dtype: dtype, bos_token_id: 1, eos_token_id: 2,
};
const H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, kvw = (H / c.num_attention_heads) * c.num_key_value_heads;
// Tied embeddings (as many small LLaMAs): 24.6M embedding + 12 x 7.1M layers = about 110M parameters.
const tensors = [['model.embed_tokens.weight', [V, H]], ['model.norm.weight', [H]]];
for (let l = 0; l < c.num_hidden_layers; l++) {
  const p = `model.layers.${l}.`;
  tensors.push([p + 'self_attn.q_proj.weight', [H, H]], [p + 'self_attn.k_proj.weight', [kvw, H]], [p + 'self_attn.v_proj.weight', [kvw, H]],
    [p + 'self_attn.o_proj.weight', [H, H]], [p + 'mlp.gate_proj.weight', [I, H]], [p + 'mlp.up_proj.weight', [I, H]],
    [p + 'mlp.down_proj.weight', [H, I]], [p + 'input_layernorm.weight', [H]], [p + 'post_attention_layernorm.weight', [H]]);
}
const esize = dtype === 'float32' ? 4 : 2;
const header = { __metadata__: { format: 'pt' } };
let off = 0;
for (const [name, shape] of tensors) {
  const n = shape.reduce((a, b) => a * b, 1) * esize;
  header[name] = { dtype: dtype === 'float32' ? 'F32' : 'F16', shape, data_offsets: [off, off + n] };
  off += n;
}
let hjson = JSON.stringify(header);
hjson += ' '.repeat((8 - (hjson.length % 8)) % 8);
mkdirSync(out, { recursive: true });
const fd = openSync(join(out, 'model.safetensors'), 'w');
const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(hjson.length));
writeSync(fd, len); writeSync(fd, Buffer.from(hjson));
let seed = 12345;
const rand = () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 4294967296; };
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const f16 = new Uint16Array(1), f32v = new Float32Array(1), u32 = new Uint32Array(f32v.buffer);
const toHalf = (x) => { // round-to-nearest for the small normal values written here
  f32v[0] = x; const b = u32[0], s = (b >>> 16) & 0x8000, e = ((b >>> 23) & 0xff) - 112, m = b & 0x7fffff;
  if (e <= 0) return s; return s | ((e << 10) + ((m + 0x1000) >>> 13));
};
for (const [name, shape] of tensors) {
  const n = shape.reduce((a, b) => a * b, 1);
  const isNorm = name.endsWith('norm.weight');
  const chunk = 1 << 20;
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    const buf = Buffer.alloc(m * esize);
    for (let j = 0; j < m; j++) {
      const v = isNorm ? 1 : gauss() * 0.02;
      if (esize === 4) buf.writeFloatLE(v, j * 4); else buf.writeUInt16LE(toHalf(v), j * 2);
    }
    writeSync(fd, buf);
  }
}
closeSync(fd);
writeFileSync(join(out, 'config.json'), JSON.stringify(config, null, 2));
writeFileSync(join(out, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }, null, 2));
console.log(`wrote ${out}: ${preset}, ${dtype}, ${(off / 1e6).toFixed(1)} MB`);
