#!/usr/bin/python3
"""Held-out perplexity (and optional sample continuations) of the HF-format
model in this directory, computed with the plain-torch LLaMA in kjv_model.py.

Perplexity definition (llmc's `llmc eval ENGINE --text FILE --ctx 256` implements
the same one):
  1. Read FILE as UTF-8 and tokenize the whole text once with tokenizer.json,
     WITHOUT the BOS post-processor (no <s> anywhere).
  2. Cut the ids into consecutive non-overlapping windows of CTX=256 tokens:
     ids[0:256], ids[256:512], ...; the last window holds the remainder and is
     used if it has at least 2 tokens.
  3. Run each window independently (fresh context, positions 0..len-1) and score
     every token after the first: for t = 0..len-2 the NLL of window[t+1] given
     window[0..t] (natural log, float32 logits, full softmax over the vocab).
  4. ppl = exp(sum of all NLLs / number of scored tokens).
     For heldout.txt: 21627 tokens -> 85 windows (84 full + 1 of 123),
     84*255 + 122 = 21542 scored tokens.

Usage:
  /usr/bin/python3 eval_ppl.py [--text heldout.txt] [--ctx 256] [--model-dir .]
  /usr/bin/python3 eval_ppl.py --samples        # also print continuations
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kjv_model import LlamaForCausalLM, load_safetensors  # noqa: E402
from kjv_tokenizer import Tokenizer  # noqa: E402

SAMPLE_PROMPTS = [
    "In the beginning God",
    "And Jesus said unto them,",
    "The LORD is my shepherd;",
    "Blessed are the",
]


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = LlamaForCausalLM(cfg)
    sd = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise SystemExit("weights mismatch: missing %s unexpected %s" % (missing, unexpected))
    model.eval()
    return model, cfg


@torch.no_grad()
def perplexity(model, ids, ctx=256, batch=8):
    """Returns (ppl, mean_nll, scored_tokens, windows) per the definition above."""
    windows = [ids[i:i + ctx] for i in range(0, len(ids), ctx)]
    windows = [w for w in windows if len(w) >= 2]
    total, count = 0.0, 0
    full = [w for w in windows if len(w) == ctx]
    rest = [w for w in windows if len(w) != ctx]
    groups = [full[i:i + batch] for i in range(0, len(full), batch)] + [[w] for w in rest]
    for g in groups:
        x = torch.tensor(g, dtype=torch.long)
        logits = model(x[:, :-1]).float()
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                              reduction="sum")
        total += nll.item()
        count += x.shape[0] * (x.shape[1] - 1)
    return math.exp(total / count), total / count, count, len(windows)


@torch.no_grad()
def generate(model, ids, n_new, temperature=0.0, top_k=0, gen=None, max_ctx=512):
    ids = list(ids)
    for _ in range(n_new):
        x = torch.tensor([ids[-max_ctx:]], dtype=torch.long)
        logits = model(x)[0, -1].float()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                v, _ = torch.topk(logits, top_k)
                logits[logits < v[-1]] = float("-inf")
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
        ids.append(nxt)
    return ids


def samples(model, tok, n_new=48, seed=0):
    out = []
    gen = torch.Generator().manual_seed(seed)
    for p in SAMPLE_PROMPTS:
        ids = tok.encode(p)                      # with <s>, as `llmc run` does
        g = generate(model, ids, n_new)
        s = generate(model, ids, n_new, temperature=0.8, top_k=40, gen=gen)
        out.append((p, tok.decode(g[len(ids):]), tok.decode(s[len(ids):])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=HERE)
    ap.add_argument("--text", default=os.path.join(HERE, "heldout.txt"))
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--samples", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = load_model(args.model_dir)
    tok = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    ids = tok.encode(text, add_special_tokens=False)
    t0 = time.time()
    ppl, nll, count, nwin = perplexity(model, ids, args.ctx)
    print("file %s: %d bytes, %d tokens, ctx %d, %d windows, %d scored tokens" % (
        os.path.basename(args.text), len(text.encode("utf-8")), len(ids), args.ctx, nwin, count))
    print("mean NLL %.4f nats/token  ->  perplexity %.3f   (%.1fs)" % (nll, ppl, time.time() - t0))
    if args.samples:
        for p, g, s in samples(model, tok):
            print("\nPROMPT  %r\nGREEDY  %r\nSAMPLED %r" % (p, g, s))


if __name__ == "__main__":
    main()
