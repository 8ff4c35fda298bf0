#!/usr/bin/python3
"""Train the tiny LLaMA on train.txt (CPU, plain torch) and save it in
HuggingFace format (config.json, generation_config.json, model.safetensors).

Run (from this directory, after prepare_corpus.py and train_tokenizer.py):
  OPENBLAS_NUM_THREADS=2 nohup nice -n 19 /usr/bin/python3 train.py > train.log 2>&1 &
  # after a crash: same command with --resume (continues from ckpt/ckpt.pt)

Schedule: the run is bounded by a wall-clock budget of training time
(--budget-min, default 32 min; time spent in evaluation/checkpointing is not
counted).  The learning rate follows linear warmup (first 3 % of the budget)
then cosine decay to 10 % of the peak, as a function of the fraction of the
budget used, so the schedule completes whatever throughput the shared machine
gives.  Training stops when the budget is used up.

Batches: each row is 256 input tokens.  Half the rows start at a random verse
start and are prefixed with <s> (so prompts with BOS, as `llmc run` sends, look
like training data); the other half are a random 257-token slice of the token
stream without BOS (as in the perplexity windows).  Loss: mean cross-entropy
over all positions.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from eval_ppl import perplexity, samples  # noqa: E402
from kjv_model import LlamaForCausalLM, save_safetensors  # noqa: E402
from kjv_tokenizer import Tokenizer  # noqa: E402

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 3,
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 256,
    "initializer_range": 0.02,
    "intermediate_size": 688,
    "max_position_embeddings": 512,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_hidden_layers": 4,
    "num_key_value_heads": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": 4096,
}
GENERATION_CONFIG = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-min", type=float, default=32.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup-frac", type=float, default=0.03)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every-min", type=float, default=6.0)
    ap.add_argument("--ckpt-every-min", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    t_start = time.time()

    tok = Tokenizer.from_file(os.path.join(HERE, "tokenizer.json"))
    text = open(os.path.join(HERE, "train.txt"), encoding="utf-8").read()
    stream = torch.tensor(tok.encode(text, add_special_tokens=False), dtype=torch.long)
    nl = tok.vocab["\u010a"]                                   # byte-level "\n"
    line_starts = (torch.nonzero(stream[:-1] == nl).flatten() + 1).tolist()
    line_starts = [0] + [s for s in line_starts if s + args.ctx < len(stream)]
    held_text = open(os.path.join(HERE, "heldout.txt"), encoding="utf-8").read()
    held = tok.encode(held_text, add_special_tokens=False)
    print("train tokens %d, verses %d, heldout tokens %d (tokenized in %.1fs)" % (
        len(stream), len(line_starts), len(held), time.time() - t_start), flush=True)

    model = LlamaForCausalLM(CONFIG)
    n_params = sum(p.numel() for p in model.parameters())
    print("params %d (%.2f MB float32)" % (n_params, n_params * 4 / 1e6), flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    ckpt_dir = os.path.join(HERE, "ckpt")
    os.makedirs(ckpt_dir, exist_ok=True)
    ckpt_path = os.path.join(ckpt_dir, "ckpt.pt")
    step, train_secs, tokens_seen, history = 0, 0.0, 0, []
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, train_secs, tokens_seen, history = ck["step"], ck["train_secs"], ck["tokens"], ck["history"]
        rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        print("resumed at step %d, %.1f min trained" % (step, train_secs / 60), flush=True)

    budget = args.budget_min * 60.0
    B, T = args.batch, args.ctx
    bos = tok.bos_id

    def lr_at(frac):
        if frac < args.warmup_frac:
            return args.lr * max(frac, 1e-3) / args.warmup_frac
        p = min(1.0, (frac - args.warmup_frac) / (1 - args.warmup_frac))
        return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))

    def batch():
        rows = []
        for i in range(B):
            if i % 2 == 0:
                s = rng.choice(line_starts)
                rows.append(torch.cat([torch.tensor([bos]), stream[s:s + T]]))
            else:
                o = rng.randrange(0, len(stream) - T - 1)
                rows.append(stream[o:o + T + 1])
        return torch.stack(rows)

    def save_ckpt():
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "train_secs": train_secs, "tokens": tokens_seen, "history": history,
                    "rng": rng.getstate(), "torch_rng": torch.get_rng_state()}, tmp)
        os.replace(tmp, ckpt_path)

    def evaluate():
        model.eval()
        t0 = time.time()
        ppl, nll, cnt, _ = perplexity(model, held, T)
        model.train()
        print("  eval step %d: heldout nll %.4f ppl %.2f (%d tokens, %.1fs)" % (
            step, nll, ppl, cnt, time.time() - t0), flush=True)
        return ppl

    model.train()
    last_eval = last_ckpt = train_secs
    recent = []
    while train_secs < budget:
        t0 = time.time()
        lr = lr_at(train_secs / budget)
        for g in opt.param_groups:
            g["lr"] = lr
        x = batch()
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += B * T
        train_secs += time.time() - t0
        recent.append(loss.item())
        if step % 10 == 0:
            avg = sum(recent) / len(recent)
            recent = []
            history.append((step, round(train_secs, 1), round(avg, 4)))
            print("step %5d  loss %.4f  lr %.2e  gnorm %.2f  %.1f min  %.0f tok/s  epochs %.2f" % (
                step, avg, lr, gnorm, train_secs / 60, tokens_seen / train_secs,
                tokens_seen / len(stream)), flush=True)
        if train_secs - last_eval > args.eval_every_min * 60:
            last_eval = train_secs
            evaluate()
        if train_secs - last_ckpt > args.ckpt_every_min * 60:
            last_ckpt = train_secs
            save_ckpt()
    save_ckpt()

    # ---- final: save HF files, evaluate, samples
    model.eval()
    save_safetensors(os.path.join(HERE, "model.safetensors"), model.hf_state_dict())
    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    with open(os.path.join(HERE, "generation_config.json"), "w") as f:
        json.dump(GENERATION_CONFIG, f, indent=2)
        f.write("\n")
    final_train = sum(h[2] for h in history[-5:]) / max(1, len(history[-5:]))
    ppl, nll, cnt, nwin = perplexity(model, held, T)
    train_slice = stream[:len(held)].tolist()        # same-size slice of the training text
    tppl, tnll, _, _ = perplexity(model, train_slice, T)
    summary = {
        "steps": step, "batch": B, "ctx": T, "tokens_seen": tokens_seen,
        "epochs": tokens_seen / len(stream), "train_tokens": len(stream),
        "train_minutes": train_secs / 60, "wall_minutes": (time.time() - t_start) / 60,
        "final_train_loss_last50": final_train,
        "heldout_nll": nll, "heldout_ppl": ppl, "heldout_scored_tokens": cnt, "heldout_windows": nwin,
        "train_slice_nll": tnll, "train_slice_ppl": tppl,
        "params": n_params, "args": vars(args),
    }
    with open(os.path.join(HERE, "train_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary, indent=2), flush=True)
    for p, g, s in samples(model, tok):
        print("\nPROMPT  %r\nGREEDY  %r\nSAMPLED %r" % (p, g, s), flush=True)


if __name__ == "__main__":
    main()
