// Non-persistent buffers that older transformers versions saved into checkpoints and that every version ignores
// on load: causal-mask buffers (`attn.bias`, `attn.masked_bias`: gpt2, gptj, gpt_neox, ...; often BOOL or U8) and
// rotary frequency caches (`rotary_emb.inv_freq`; llmc computes the frequencies itself, layers/positions.ts).
// Real weights are never named like this: projection biases are `<proj>.bias` (`attn.c_attn.bias`), never
// `attn.bias` itself. The safetensors reader skips such buffers when their dtype is not a float one; the weight map
// declares the float ones unused (models/weight-map.ts).
export const HF_BUFFERS: readonly RegExp[] = [
  /(^|\.)(attn|attention)\.bias$/,
  /(^|\.)masked_bias$/,
  /(^|\.)rotary_emb\.inv_freq$/,
];

export function isHfBuffer(name: string): boolean {
  return HF_BUFFERS.some((re) => re.test(name));
}
