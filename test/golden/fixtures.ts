// The golden fixtures the suite builds and compares. Every fixture in test/fixtures/golden/index.json must be
// listed here (a test checks it), so a new fixture can't be silently left out.
export const GOLDEN_FIXTURES = [
  'llama', 'llama_rope_linear', 'llama3_rope', 'llama_sharded', 'llama_fp16', 'llama_bf16', 'mistral', 'qwen2',
  'gemma', 'phi', 'starcoder2', 'falcon_mqa', 'falcon_new_arch', 'falcon_alibi', 'mpt', 'bloom', 'gptj', 'gpt2',
  'gpt_neox', 'opt', 'gpt_bigcode',
];
