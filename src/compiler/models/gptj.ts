// GPTJForCausalLM. Parallel block with one LayerNorm (x + attn(ln_1(x)) + mlp(ln_1(x))), interleaved rotary
// (rotate_every_two: element 2i pairs with 2i+1, the runtime's gptj style) on the first rotary_dim dims of each
// head, base 10000 (gptj has no base key), no biases in attention, MLP fc_in/fc_out with bias and gelu_new, and
// an untied LM head with a bias.
import { fail } from '../../errors.js';
import { hfActivation } from './activation.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { WeightMapBuilder, type WeightMap } from './weight-map.js';

function normalize(hf: HfConfig): ModelConfig {
  const hidden = hf.int(hf.key('n_embd', 'hidden_size'), 4096);
  const heads = hf.int(hf.key('n_head', 'num_attention_heads'), 16);
  if (hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: n_embd ${hidden} is not a multiple of n_head ${heads}`);
  const headDim = hidden / heads;
  // rotary_dim null makes HF rotate with hidden_size-wide tables, which only fits single-head models.
  const rotaryDim = hf.raw.rotary_dim === null ? null : hf.int('rotary_dim', 64);
  if (rotaryDim === null || rotaryDim > headDim || rotaryDim % 2 !== 0) {
    fail('UNSUPPORTED', `unsupported rotary_dim=${rotaryDim} for ${hf.architecture} (head size ${headDim})`, 'llmc supports an even rotary_dim of at most the head size');
  }
  return {
    architecture: hf.architecture,
    model_type: hf.str('model_type', 'gptj'),
    vocab_size: hf.int('vocab_size', 50400),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int(hf.key('n_layer', 'num_hidden_layers'), 28),
    num_heads: heads,
    num_kv_heads: heads,
    head_dim: headDim,
    intermediate_size: hf.int('n_inner', 4 * hidden),                        // n_inner null: 4 * n_embd
    max_position_embeddings: hf.int(hf.key('n_positions', 'max_position_embeddings'), 2048),
    norm_eps: hf.num('layer_norm_epsilon', 1e-5),
    attention_scale: 1 / Math.sqrt(headDim),
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    norm_kind: 'layer',
    norm_bias: true,
    rope_style: 'gptj',
    rotary_dim: rotaryDim,
    activation: hfActivation(hf, 'activation_function', 'gelu_new'),
    mlp_gated: false,
    mlp_bias: true,
    parallel_residual: true,
    parallel_norms: 1,
    tie_word_embeddings: hf.bool('tie_word_embeddings', false),
    lm_head_bias: true,
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  const m = new WeightMapBuilder();
  const T = 'transformer.';
  m.map('embed.weight', `${T}wte.weight`);                                 // [vocab, hidden]
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${T}h.${i}`];
    m.linear(`${L}.attn_norm`, `${H}.ln_1`, true);
    for (const p of ['q', 'k', 'v']) m.linear(`${L}.${p}`, `${H}.attn.${p}_proj`, false);   // [hidden, hidden]
    m.linear(`${L}.o`, `${H}.attn.out_proj`, false);
    m.linear(`${L}.up`, `${H}.mlp.fc_in`, true);                              // [inner, hidden]
    m.linear(`${L}.down`, `${H}.mlp.fc_out`, true);                           // [hidden, inner]
  }
  m.linear('final_norm', `${T}ln_f`, true);
  m.map('lm_head.bias', 'lm_head.bias');                                     // [vocab], tied or not
  if (!cfg.tie_word_embeddings) m.map('lm_head.weight', 'lm_head.weight');
  else m.unused(/^lm_head\.weight$/);                                        // tied: HF replaces it by wte
  return m.finish();
}

export const gptj: ModelFamily = {
  name: 'gptj',
  architectures: ['GPTJForCausalLM'],
  basePrefix: 'transformer.',
  normalize,
  weightMap,
};
