// A byte-level tokenizer.json for the 512-token golden models: ids 0..255 are the bytes themselves (GPT-2's
// byte-to-unicode alphabet, no merges), 256..511 are placeholder tokens, <x256> is EOS. Real text then maps onto
// a random tiny model, and multi-byte characters span several tokens (what streaming detokenization must handle).

function byteAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const chars: string[] = new Array(256);
  for (const b of printable) chars[b] = String.fromCodePoint(b);
  let shift = 0;
  for (let b = 0; b < 256; b++) {
    if (chars[b] === undefined) chars[b] = String.fromCodePoint(256 + shift++);
  }
  return chars;
}

export function byteTokenizerJson(vocabSize = 512): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  byteAlphabet().forEach((ch, b) => { vocab[ch] = b; });
  for (let i = 256; i < vocabSize; i++) vocab[`<x${i}>`] = i;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    added_tokens: [{ id: 256, content: '<x256>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
}

export const BYTE_CHAT_TEMPLATE = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

export function byteTokenizerConfig(): Record<string, unknown> {
  return { eos_token: '<x256>', clean_up_tokenization_spaces: false, chat_template: BYTE_CHAT_TEMPLATE, tokenizer_class: 'PreTrainedTokenizerFast' };
}
