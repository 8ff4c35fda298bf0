// Model configs for `llmc build --dummy-weights --config PRESET`: the config.json of well-known checkpoints as
// published on the HuggingFace Hub (the fields that matter for the model; training-only extras such as dropout,
// init ranges and auto_map are left out where llmc ignores them anyway), plus llama-110m, a small llama for
// tests and CPU benchmarks. Each goes through its family file (models/<family>.ts) like a real checkpoint's
// config, so building every preset also checks config normalisation and graph shapes at 7B sizes.
export const PRESETS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  // meta-llama/Llama-2-7b-hf
  'llama-2-7b': {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
    hidden_size: 4096, intermediate_size: 11008, max_position_embeddings: 4096, num_attention_heads: 32,
    num_hidden_layers: 32, num_key_value_heads: 32, pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null,
    tie_word_embeddings: false, torch_dtype: 'float16', vocab_size: 32000,
  },
  // meta-llama/Meta-Llama-3-8B
  'llama-3-8b': {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', attention_bias: false, bos_token_id: 128000,
    eos_token_id: 128001, hidden_act: 'silu', hidden_size: 4096, intermediate_size: 14336,
    max_position_embeddings: 8192, num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8,
    pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 500000.0, tie_word_embeddings: false,
    torch_dtype: 'bfloat16', vocab_size: 128256,
  },
  // mistralai/Mistral-7B-v0.1
  'mistral-7b': {
    architectures: ['MistralForCausalLM'], model_type: 'mistral', bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
    hidden_size: 4096, intermediate_size: 14336, max_position_embeddings: 32768, num_attention_heads: 32,
    num_hidden_layers: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 10000.0, sliding_window: 4096,
    tie_word_embeddings: false, torch_dtype: 'bfloat16', vocab_size: 32000,
  },
  // EleutherAI/gpt-j-6b (main branch: float32 weights; build with --dtype float16 for the fp16 size)
  'gpt-j-6b': {
    architectures: ['GPTJForCausalLM'], model_type: 'gptj', activation_function: 'gelu_new', bos_token_id: 50256,
    eos_token_id: 50256, layer_norm_epsilon: 1e-5, n_embd: 4096, n_head: 16, n_inner: null, n_layer: 28,
    n_positions: 2048, rotary: true, rotary_dim: 64, scale_attn_weights: true, tie_word_embeddings: false,
    vocab_size: 50400,
  },
  // tiiuae/falcon-7b
  'falcon-7b': {
    architectures: ['FalconForCausalLM'], model_type: 'falcon', alibi: false, apply_residual_connection_post_layernorm: false,
    bias: false, bos_token_id: 11, eos_token_id: 11, hidden_size: 4544, layer_norm_epsilon: 1e-5, multi_query: true,
    new_decoder_architecture: false, num_attention_heads: 71, num_hidden_layers: 32, parallel_attn: true,
    torch_dtype: 'bfloat16', vocab_size: 65024,
  },
  // mosaicml/mpt-7b
  'mpt-7b': {
    architectures: ['MPTForCausalLM'], model_type: 'mpt',
    attn_config: {
      alibi: true, alibi_bias_max: 8, attn_impl: 'torch', attn_pdrop: 0, attn_type: 'multihead_attention',
      attn_uses_sequence_id: false, clip_qkv: null, prefix_lm: false, qk_ln: false, softmax_scale: null,
    },
    d_model: 4096, emb_pdrop: 0, embedding_fraction: 1.0, expansion_ratio: 4, learned_pos_emb: true, logit_scale: null,
    max_seq_len: 2048, n_heads: 32, n_layers: 32, no_bias: true, norm_type: 'low_precision_layernorm', resid_pdrop: 0,
    torch_dtype: 'bfloat16', vocab_size: 50432,
  },
  // bigscience/bloom-7b1
  'bloom-7b1': {
    architectures: ['BloomForCausalLM'], model_type: 'bloom', apply_residual_connection_post_layernorm: false,
    attention_softmax_in_fp32: true, bos_token_id: 1, eos_token_id: 2, hidden_size: 4096, layer_norm_epsilon: 1e-5,
    n_head: 32, n_inner: null, n_layer: 30, offset_alibi: 100, pad_token_id: 3, pretraining_tp: 1,
    slow_but_exact: false, unk_token_id: 0, vocab_size: 250880,
  },
  // TinyLlama/TinyLlama-1.1B-Chat-v1.0: a 1B-class llama (GQA 32/4) small enough for CPU machines
  'tinyllama-1.1b': {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
    hidden_size: 2048, intermediate_size: 5632, max_position_embeddings: 2048, num_attention_heads: 32,
    num_hidden_layers: 22, num_key_value_heads: 4, pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null,
    rope_theta: 10000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16', vocab_size: 32000,
  },
  // Not a published checkpoint: a llama2.c-sized model (110M parameters) for tests and CPU benchmarks.
  'llama-110m': {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
    hidden_size: 768, intermediate_size: 2048, max_position_embeddings: 1024, num_attention_heads: 12,
    num_hidden_layers: 12, num_key_value_heads: 12, rms_norm_eps: 1e-5, tie_word_embeddings: true,
    torch_dtype: 'float32', vocab_size: 32000,
  },
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}
