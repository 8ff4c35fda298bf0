#!/usr/bin/env python3
"""Dump HuggingFace transformers' activations in llmc's dump layout, under llmc's value names, so that
`llmc verify ENGINE --reference-dumps DIR` checks an engine against transformers itself (docs/verify.md).

    python3 scripts/hf-dump.py HF_DIR --token-ids 5,17,42 --max-new-tokens 4 --out DIR

Needs torch and transformers (optional: nothing else in llmc uses Python packages). The model runs in float32,
eager attention, on the CPU, one prompt (batch 1): step 0 is the prefill over the whole prompt, step k >= 1 a
one-token decode step with the KV cache feeding greedy token k-1, as llmc's executor runs one sequence.

Written: DIR/index.tsv (step, op, value, rows, width, file), DIR/stepNNNN.<value>.f32 (raw little-endian f32
[rows, width]), DIR/prompts.json ({"prompts": [[ids]], "max_new_tokens": N, "tokens": [[greedy ids]],
"token_steps": [[0, 1, ...]]}). Values: `embed`, `final_norm`, `logits` (the last row at prefill: the row llmc
samples from) and `l{i}.out` for every family; for LLaMA-style layers (llama, mistral, qwen2, gemma, starcoder2
where the modules exist) also `l{i}.attn_norm`, `l{i}.q`, `l{i}.k`, `l{i}.v`, `l{i}.attn`, `l{i}.attn_out`,
`l{i}.mlp_norm`, `l{i}.gate`, `l{i}.up`, `l{i}.mlp_act`, `l{i}.mlp_out`. Names llmc's plan does not have are
ignored by verify; `llmc build --dump-ir` shows the plan's names.
"""
import argparse
import json
import os
import sys


def die(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hf_dir")
    ap.add_argument("--token-ids", required=True, help="the prompt, comma-separated token ids")
    ap.add_argument("--max-new-tokens", type=int, default=4)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        die(f"{e.name} is not installed; pip install torch transformers (only this script needs them)")
    ids = [int(x) for x in args.token_ids.split(",") if x.strip()]
    if not ids:
        die("--token-ids is empty")
    if args.max_new_tokens < 1:
        die("--max-new-tokens must be >= 1")
    os.makedirs(args.out, exist_ok=True)

    torch.set_grad_enabled(False)
    model = AutoModelForCausalLM.from_pretrained(args.hf_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    cfg = model.config

    index = open(os.path.join(args.out, "index.tsv"), "w")
    index.write("step\top\tvalue\trows\twidth\tfile\n")
    state = {"step": 0}

    def write(name, t, last_row_only=False):
        t = t.detach().to(torch.float32)
        t = t.reshape(-1, t.shape[-1])          # [batch*tokens, width]; batch is 1
        if last_row_only:
            t = t[-1:]
        fname = f"step{state['step']:04d}.{name}.f32"
        t.contiguous().numpy().astype("<f4").tofile(os.path.join(args.out, fname))
        index.write(f"{state['step']}\thf\t{name}\t{t.shape[0]}\t{t.shape[1]}\t{fname}\n")

    def out_hook(name, scale=None, last_row_only=False):
        def hook(_mod, _inp, out):
            o = out[0] if isinstance(out, tuple) else out
            write(name, o * scale if scale is not None else o, last_row_only)
        return hook

    def in_hook(name):
        def hook(_mod, inp):
            write(name, inp[0])
        return hook

    base = model.base_model
    emb_scale = (cfg.hidden_size ** 0.5) if cfg.model_type == "gemma" else None   # gemma scales after the lookup
    model.get_input_embeddings().register_forward_hook(out_hook("embed", emb_scale))
    layers = None
    for attr in ("layers", "h", "blocks"):
        if hasattr(base, attr):
            layers = getattr(base, attr)
            break
    if layers is None and hasattr(base, "decoder"):
        layers = base.decoder.layers
    if layers is None:
        die(f"cannot find the decoder layers of {type(model).__name__}")
    for i, layer in enumerate(layers):
        layer.register_forward_hook(out_hook(f"l{i}.out"))
        attn, mlp = getattr(layer, "self_attn", None), getattr(layer, "mlp", None)
        if hasattr(layer, "input_layernorm") and attn is not None and hasattr(attn, "q_proj") and hasattr(attn, "o_proj"):
            layer.input_layernorm.register_forward_hook(out_hook(f"l{i}.attn_norm"))
            attn.q_proj.register_forward_hook(out_hook(f"l{i}.q"))
            attn.k_proj.register_forward_hook(out_hook(f"l{i}.k"))
            attn.v_proj.register_forward_hook(out_hook(f"l{i}.v"))
            attn.o_proj.register_forward_pre_hook(in_hook(f"l{i}.attn"))
            attn.o_proj.register_forward_hook(out_hook(f"l{i}.attn_out"))
        if hasattr(layer, "post_attention_layernorm") and mlp is not None and hasattr(mlp, "down_proj"):
            layer.post_attention_layernorm.register_forward_hook(out_hook(f"l{i}.mlp_norm"))
            for hf, name in (("gate_proj", "gate"), ("up_proj", "up")):
                if hasattr(mlp, hf):
                    getattr(mlp, hf).register_forward_hook(out_hook(f"l{i}.{name}"))
            mlp.down_proj.register_forward_pre_hook(in_hook(f"l{i}.mlp_act"))
            mlp.down_proj.register_forward_hook(out_hook(f"l{i}.mlp_out"))
    for attr in ("norm", "ln_f", "final_layer_norm", "final_layernorm"):
        mod = getattr(base, attr, None) or getattr(getattr(base, "decoder", None), attr, None)
        if mod is not None:
            mod.register_forward_hook(out_hook("final_norm"))
            break
    model.get_output_embeddings().register_forward_hook(
        lambda m, i, o: write("logits", o, last_row_only=True))

    tokens = []
    past = None
    x = torch.tensor([ids])
    for step in range(args.max_new_tokens):
        state["step"] = step
        out = model(input_ids=x, past_key_values=past, use_cache=True)
        past = out.past_key_values
        tok = int(out.logits[0, -1].argmax())
        tokens.append(tok)
        x = torch.tensor([[tok]])
    index.close()
    with open(os.path.join(args.out, "prompts.json"), "w") as f:
        json.dump({"prompts": [ids], "max_new_tokens": args.max_new_tokens, "tokens": [tokens],
                   "token_steps": [list(range(len(tokens)))], "source": "scripts/hf-dump.py", "model": args.hf_dir}, f)
    print(f"wrote {args.max_new_tokens} steps of {type(model).__name__} to {args.out}")


if __name__ == "__main__":
    main()
