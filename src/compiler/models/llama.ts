// The llama family: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM. Pre-norm RMSNorm blocks, SwiGLU
// MLP, rotate_half rope (HF's q/k rows are already permuted for it), GQA. The variants differ only in:
//   llama    attention_bias (q, k, v, o), mlp_bias, rope_scaling linear / llama3
//   mistral  sliding_window (null: none; absent: the class default 4096)
//   qwen2    bias on q, k, v (never o); use_sliding_window must be false (HF's eager path ignores the window)
import { fail } from '../../errors.js';
import { tensor } from '../ir/weight-source.js';
import { baseConfig, type ModelConfig } from './config.js';
import type { ModelFamily } from './family.js';
import type { HfConfig } from './hf-config.js';
import { parseRopeScaling } from './rope-scaling.js';
import { HF_BUFFERS } from '../hf/buffers.js';
import type { WeightMap, WeightMapEntry } from './weight-map.js';

const LLAMA = 'LlamaForCausalLM';
const MISTRAL = 'MistralForCausalLM';
const QWEN2 = 'Qwen2ForCausalLM';

// HF class defaults for keys a config.json may leave out.
const MAX_POSITIONS_DEFAULT: Record<string, number> = { [LLAMA]: 2048, [MISTRAL]: 4096 * 32, [QWEN2]: 32768 };
const MISTRAL_SLIDING_WINDOW_DEFAULT = 4096;

function normalize(hf: HfConfig, tensorNames: ReadonlySet<string>): ModelConfig {
  const arch = hf.architecture;
  const hidden = hf.int('hidden_size');
  const heads = hf.int('num_attention_heads');
  const kvHeads = hf.int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) fail('BAD_CHECKPOINT', `config.json: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  if (!hf.has('head_dim') && hidden % heads !== 0) fail('BAD_CHECKPOINT', `config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  const headDim = hf.int('head_dim', hidden / heads);
  hf.oneOf('hidden_act', ['silu'], 'silu');

  const attentionBias = arch === LLAMA ? hf.bool('attention_bias', false) : false;
  let slidingWindow = 0;
  if (arch === MISTRAL) {
    const raw = hf.raw.sliding_window;
    slidingWindow = raw === undefined ? MISTRAL_SLIDING_WINDOW_DEFAULT : raw === null ? 0 : hf.int('sliding_window');
  }
  if (arch === QWEN2 && hf.bool('use_sliding_window', false)) {
    fail('UNSUPPORTED', `unsupported use_sliding_window=true for ${arch}`, 'llmc supports Qwen2 models with use_sliding_window=false');
  }
  // A missing tie_word_embeddings means true (PretrainedConfig's default, how HF writes configs), unless the
  // checkpoint stores an lm_head of its own (then the llama classes' own default, false, is what HF uses).
  const tied = hf.has('tie_word_embeddings') ? hf.bool('tie_word_embeddings', true) : !tensorNames.has('lm_head.weight');

  return {
    architecture: arch,
    model_type: hf.str('model_type', arch === QWEN2 ? 'qwen2' : arch === MISTRAL ? 'mistral' : 'llama'),
    vocab_size: hf.int('vocab_size'),
    hidden_size: hidden,
    embedding_dim: hidden,
    num_layers: hf.int('num_hidden_layers'),
    num_heads: heads,
    num_kv_heads: kvHeads,
    head_dim: headDim,
    intermediate_size: hf.int('intermediate_size'),
    max_position_embeddings: hf.int('max_position_embeddings', MAX_POSITIONS_DEFAULT[arch]),
    norm_eps: hf.num('rms_norm_eps', 1e-6),
    attention_scale: 1 / Math.sqrt(headDim),
    ...baseConfig(),
    torch_dtype: hf.torchDtype(),
    rotary_dim: headDim,
    rope_theta: hf.num('rope_theta', 10000),
    rope_scaling: parseRopeScaling(hf),
    sliding_window: slidingWindow,
    qkv_bias: arch === QWEN2 || attentionBias,
    o_bias: attentionBias,
    mlp_bias: arch === LLAMA ? hf.bool('mlp_bias', false) : false,
    tie_word_embeddings: tied,
  };
}

function weightMap(cfg: ModelConfig): WeightMap {
  // Base-model checkpoints without the `model.` prefix get it back in weight-map.ts withBasePrefix.
  const P = 'model.';
  const entries: WeightMapEntry[] = [];
  const map = (target: string, name: string) => entries.push({ target, source: tensor(name) });
  map('embed.weight', `${P}embed_tokens.weight`);
  for (let i = 0; i < cfg.num_layers; i++) {
    const [L, H] = [`l${i}`, `${P}layers.${i}`];
    map(`${L}.attn_norm.weight`, `${H}.input_layernorm.weight`);
    for (const p of ['q', 'k', 'v', 'o']) {
      map(`${L}.${p}.weight`, `${H}.self_attn.${p}_proj.weight`);
      if (p === 'o' ? cfg.o_bias : cfg.qkv_bias) map(`${L}.${p}.bias`, `${H}.self_attn.${p}_proj.bias`);
    }
    map(`${L}.mlp_norm.weight`, `${H}.post_attention_layernorm.weight`);
    for (const p of ['gate', 'up', 'down']) {
      map(`${L}.${p}.weight`, `${H}.mlp.${p}_proj.weight`);
      if (cfg.mlp_bias) map(`${L}.${p}.bias`, `${H}.mlp.${p}_proj.bias`);
    }
  }
  map('final_norm.weight', `${P}norm.weight`);
  if (!cfg.tie_word_embeddings) map('lm_head.weight', 'lm_head.weight');
  // Older checkpoints carry the rotary buffer (rotary_emb.inv_freq, in HF_BUFFERS); llmc computes the
  // frequencies itself (layers/positions.ts).
  return { entries, unused: [...HF_BUFFERS] };
}

export const llama: ModelFamily = {
  name: 'llama',
  architectures: [LLAMA, MISTRAL, QWEN2],
  basePrefix: 'model.',
  normalize,
  weightMap,
};
