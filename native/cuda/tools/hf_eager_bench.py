#!/usr/bin/env python3
"""HuggingFace transformers (eager attention) baseline for native/tests/cuda_bench on the same GPU.

Llama-2-7b shapes with random weights (the model cuda_bench runs as `llmc build --dummy-weights --config llama-2-7b`),
measured the same way: TTFT (prefill + first token) per prompt length, batch-1 decode tok/s, and steady-state
decode tok/s per batch size (greedy, EOS ignored).

    python3 native/cuda/tools/hf_eager_bench.py [--dtype float16] [--prompt-lens 128,512,2048]
                                                [--batches 1,8,32,64] [--gen-len 128] [--json]

Needs torch with CUDA and transformers (both on the GPU machines of this project); nothing is downloaded.
"""
import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    ap.add_argument("--prompt-lens", default="128,512,2048")
    ap.add_argument("--batches", default="1,8,32,64")
    ap.add_argument("--gen-len", type=int, default=128)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)

    cfg = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096, rms_norm_eps=1e-5)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM._from_config(cfg, torch_dtype=dtype, attn_implementation="eager")
    model.eval()
    sync = torch.cuda.synchronize

    def prompt(batch, n, seed):
        g = torch.Generator(device="cuda").manual_seed(seed)
        return torch.randint(0, cfg.vocab_size, (batch, n), device="cuda", generator=g)

    @torch.no_grad()
    def prefill_ms(batch, n):
        ids = prompt(batch, n, 1)
        sync()
        t0 = time.perf_counter()
        out = model(ids, use_cache=True)
        out.logits[:, -1].argmax(-1)
        sync()
        return (time.perf_counter() - t0) * 1e3

    @torch.no_grad()
    def generate_s(batch, n, gen):
        ids = prompt(batch, n, 2)
        sync()
        t0 = time.perf_counter()
        model.generate(ids, max_new_tokens=gen, min_new_tokens=gen, do_sample=False, pad_token_id=0)
        sync()
        return time.perf_counter() - t0

    prefill_ms(1, 16)  # warm-up
    generate_s(1, 16, 4)
    result = {"device": torch.cuda.get_device_name(), "dtype": args.dtype, "ttft_ms": {}, "decode": {}}
    for n in [int(x) for x in args.prompt_lens.split(",")]:
        result["ttft_ms"][str(n)] = sorted(prefill_ms(1, n) for _ in range(3))[1]
    for b in [int(x) for x in args.batches.split(",")]:
        p = 128
        total = generate_s(b, p, args.gen_len)
        first = prefill_ms(b, p)
        decode_s = max(total - first / 1e3, 1e-9)
        result["decode"][str(b)] = {"tok_s": b * (args.gen_len - 1) / decode_s, "ms_per_step": decode_s * 1e3 / (args.gen_len - 1)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"HF transformers eager, llama-2-7b shapes ({args.dtype}, random weights) on {result['device']}")
    for n, ms in result["ttft_ms"].items():
        print(f"TTFT {int(n):5d}-token prompt: {ms:9.2f} ms")
    for b, r in result["decode"].items():
        print(f"decode batch {int(b):3d}: {r['tok_s']:9.1f} tok/s, {r['ms_per_step']:7.3f} ms per step")


if __name__ == "__main__":
    main()
