#!/usr/bin/python3
"""Train a byte-level BPE tokenizer (GPT-2 style) on train.txt and write
tokenizer.json + tokenizer_config.json in HuggingFace `tokenizers` format.

Vocabulary (4096 ids):
  0 <unk>, 1 <s>, 2 </s>, 3 <pad>       special / added tokens
  4..259                                the 256 byte-level symbols, in byte order
  260..4095                             one token per learned merge

Algorithm: count GPT-2-regex pre-tokens of the training text; start every
pre-token as its sequence of byte symbols; repeatedly merge the most frequent
adjacent pair (ties: lexicographically smallest pair) until the vocabulary has
4096 entries.  Merge ranks are the order of learning, which is exactly how the
HF BPE model applies them when encoding.

Usage: /usr/bin/python3 train_tokenizer.py   (after prepare_corpus.py)
"""
import collections
import json
import os
import time

from kjv_tokenizer import BYTE_ENCODER, Tokenizer, pretokenize

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_SIZE = 4096
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
MODEL_MAX_LENGTH = 512


def train_bpe(word_counts, n_base, vocab_size):
    words = [list(w) for w in word_counts]
    freqs = list(word_counts.values())
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)       # pair -> indices of words containing it
    for wi, (w, f) in enumerate(zip(words, freqs)):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += f
            where[(a, b)].add(wi)
    merges, new_tokens, seen = [], [], set()
    while n_base + len(new_tokens) < vocab_size and pair_counts:
        top = max(pair_counts.values())
        if top <= 0:
            break
        best = min(p for p, c in pair_counts.items() if c == top)
        a, b = best
        ab = a + b
        merges.append(best)
        if ab not in seen:
            seen.add(ab)
            new_tokens.append(ab)
        for wi in list(where[best]):
            w, f = words[wi], freqs[wi]
            # remove this word's old pairs
            for p in zip(w, w[1:]):
                pair_counts[p] -= f
                if pair_counts[p] == 0:
                    del pair_counts[p]
            nw, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and w[i] == a and w[i + 1] == b:
                    nw.append(ab)
                    i += 2
                else:
                    nw.append(w[i])
                    i += 1
            words[wi] = nw
            for p in zip(w, w[1:]):
                where[p].discard(wi)
            for p in zip(nw, nw[1:]):
                pair_counts[p] += f
                where[p].add(wi)
        where.pop(best, None)
        pair_counts.pop(best, None)
    return merges, new_tokens


def main():
    t0 = time.time()
    text = open(os.path.join(HERE, "train.txt"), encoding="utf-8").read()
    counts = collections.Counter(pretokenize(text))
    print("pre-tokens: %d total, %d unique" % (sum(counts.values()), len(counts)))

    vocab = {}
    for s in SPECIALS:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[BYTE_ENCODER[b]] = len(vocab)
    merges, new_tokens = train_bpe(counts, len(vocab), VOCAB_SIZE)
    for t in new_tokens:
        vocab[t] = len(vocab)
    assert len(vocab) == VOCAB_SIZE, len(vocab)
    print("merges: %d, vocab: %d (%.1fs)" % (len(merges), len(vocab), time.time() - t0))

    added_tokens = [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False,
                     "rstrip": False, "normalized": False, "special": True} for s in SPECIALS]
    tok_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                          "trim_offsets": True, "use_regex": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [vocab["<s>"]], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            # legacy "left right" strings: read by every tokenizers version and by
            # tokenizers.js; byte-level symbols never contain a space.
            "merges": ["%s %s" % m for m in merges],
        },
    }
    with open(os.path.join(HERE, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok_json, f, ensure_ascii=False, indent=2)
        f.write("\n")

    cfg = {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {str(t["id"]): {k: v for k, v in t.items() if k != "id"}
                                 for t in added_tokens},
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "clean_up_tokenization_spaces": False,
        "model_max_length": MODEL_MAX_LENGTH,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    with open(os.path.join(HERE, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=2)
        f.write("\n")

    # sanity: round trip and compression on the held-out text
    tok = Tokenizer.from_file(os.path.join(HERE, "tokenizer.json"))
    held = open(os.path.join(HERE, "heldout.txt"), encoding="utf-8").read()
    ids = tok.encode(held, add_special_tokens=False)
    assert tok.decode(ids) == held
    print("heldout: %d bytes -> %d tokens (%.2f bytes/token)" % (
        len(held.encode()), len(ids), len(held.encode()) / len(ids)))
    print("done in %.1fs" % (time.time() - t0))


if __name__ == "__main__":
    main()
