#!/usr/bin/python3
"""Extract the King James Bible from Debian's bible-kjv / bible-kjv-text packages
and write plain verse text, one verse per line, split into train / held-out.

Requires:  apt-get install -y bible-kjv bible-kjv-text

Split: chapters are numbered 1..1189 in canonical order (Genesis 1 = 1,
Revelation 22 = 1189).  Every 50th chapter (global number % 50 == 0, i.e.
chapters 50, 100, ..., 1150: 23 whole chapters) goes to heldout.txt and is never
seen by the tokenizer trainer nor the model.  All other chapters go to train.txt.

Outputs (in this directory):
  train.txt            training text (not committed; regenerate with this script)
  heldout.txt          held-out text
  heldout-excerpt.txt  the first whole verses of heldout.txt, ~3 KB
  heldout-chapters.txt list of held-out chapter references
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HOLDOUT_EVERY = 50
EXCERPT_BYTES = 3000


def main():
    # -f turns pretty-printing OFF: one verse per line, "Ge1:1 In the beginning ..."
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], stdin=subprocess.DEVNULL,
                         capture_output=True, check=True).stdout.decode("utf-8")
    pat = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")
    verses = []  # (book, chapter, verse, text)
    for line in out.splitlines():
        if not line.strip():
            continue
        m = pat.match(line)
        if not m:
            sys.exit("unexpected line: %r" % line)
        book, ch, vs, text = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        text = " ".join(text.split())
        verses.append((book, ch, vs, text))
    if len(verses) != 31102:
        sys.exit("expected 31102 verses, got %d" % len(verses))

    train, held, held_refs = [], [], []
    chap_no = 0
    prev = None
    for book, ch, vs, text in verses:
        if (book, ch) != prev:
            chap_no += 1
            prev = (book, ch)
            if chap_no % HOLDOUT_EVERY == 0:
                held_refs.append("%d %s%d" % (chap_no, book, ch))
        (held if chap_no % HOLDOUT_EVERY == 0 else train).append(text)
    assert chap_no == 1189, chap_no

    def write(name, lines):
        with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")

    write("train.txt", train)
    write("heldout.txt", held)
    write("heldout-chapters.txt", held_refs)
    ex, n = [], 0
    for line in held:
        if n + len(line) + 1 > EXCERPT_BYTES and ex:
            break
        ex.append(line)
        n += len(line) + 1
    write("heldout-excerpt.txt", ex)
    for name in ("train.txt", "heldout.txt", "heldout-excerpt.txt"):
        p = os.path.join(HERE, name)
        print("%-20s %9d bytes" % (name, os.path.getsize(p)))
    print("held-out chapters (%d): %s" % (len(held_refs), ", ".join(r.split()[1] for r in held_refs)))


if __name__ == "__main__":
    main()
