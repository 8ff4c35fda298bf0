"""Minimal pure-Python implementation of a HuggingFace byte-level BPE tokenizer
(the subset used by tokenizer.json in this directory): added/special tokens,
ByteLevel pre-tokenizer (GPT-2 regex, add_prefix_space=false), BPE model with
ranked merges, TemplateProcessing "<s> $A", ByteLevel decoder.

Used by train_tokenizer.py, train.py and eval_ppl.py.  Needs python3-regex
(Debian) for the \\p{L} / \\p{N} classes of the GPT-2 split pattern.
"""
import json

import regex

# The pattern HF tokenizers' ByteLevel pre-tokenizer uses when use_regex=true.
GPT2_SPLIT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode char table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) \
        + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {c: b for b, c in BYTE_ENCODER.items()}


def pretokenize(text):
    """Split with the GPT-2 regex, then map each piece's UTF-8 bytes to chars."""
    return ["".join(BYTE_ENCODER[b] for b in piece.encode("utf-8"))
            for piece in GPT2_SPLIT.findall(text)]


class Tokenizer:
    def __init__(self, vocab, merges, added_tokens, bos_token="<s>"):
        self.vocab = dict(vocab)                    # token string -> id
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.ranks = {tuple(m): r for r, m in enumerate(merges)}
        self.added = {t["content"]: t["id"] for t in added_tokens}
        self.special_ids = {t["id"] for t in added_tokens if t.get("special")}
        for t, i in self.added.items():
            self.id_to_token[i] = t
        self.bos_token = bos_token
        self.bos_id = self.added.get(bos_token)
        if self.added:
            alts = sorted(self.added, key=len, reverse=True)
            self.added_re = regex.compile("|".join(regex.escape(a) for a in alts))
        else:
            self.added_re = None
        self.cache = {}

    @classmethod
    def from_file(cls, path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        m = j["model"]
        assert m["type"] == "BPE"
        merges = [x.split(" ") if isinstance(x, str) else x for x in m["merges"]]
        bos = None
        pp = j.get("post_processor") or {}
        if pp.get("type") == "TemplateProcessing":
            for item in pp["single"]:
                if "SpecialToken" in item:
                    bos = item["SpecialToken"]["id"]
                    break
        return cls(m["vocab"], merges, j.get("added_tokens", []), bos_token=bos)

    def bpe(self, word):
        """Apply merges to one pre-token (a string of byte-level chars)."""
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        ranks = self.ranks
        while len(parts) > 1:
            best, best_rank = None, None
            for i in range(len(parts) - 1):
                r = ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            a, b = parts[best], parts[best + 1]
            out, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        ids = [self.vocab[p] for p in parts]
        if len(self.cache) < 200000:
            self.cache[word] = ids
        return ids

    def encode_plain(self, text):
        ids = []
        for piece in pretokenize(text):
            ids.extend(self.bpe(piece))
        return ids

    def encode(self, text, add_special_tokens=True):
        ids = []
        if self.added_re is None:
            ids = self.encode_plain(text)
        else:
            pos = 0
            for m in self.added_re.finditer(text):
                ids.extend(self.encode_plain(text[pos:m.start()]))
                ids.append(self.added[m.group(0)])
                pos = m.end()
            ids.extend(self.encode_plain(text[pos:]))
        if add_special_tokens and self.bos_id is not None:
            ids = [self.bos_id] + ids
        return ids

    def decode(self, ids, skip_special_tokens=True):
        out, buf = [], []
        for i in ids:
            if i in self.special_ids:
                if skip_special_tokens:
                    continue
                out.append(bytes(buf).decode("utf-8", errors="replace"))
                buf = []
                out.append(self.id_to_token[i])
                continue
            buf.extend(BYTE_DECODER[c] for c in self.id_to_token[i])
        out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)
