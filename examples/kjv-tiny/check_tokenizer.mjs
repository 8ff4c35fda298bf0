// Checks that tokenizers.js (@huggingface/tokenizers, from the repo's node_modules)
// loads tokenizer.json / tokenizer_config.json and produces exactly the ids of
// the Python reference implementation (kjv_tokenizer.py) on corpus text,
// edge cases, emoji and Korean, with and without the BOS post-processor;
// also checks that both decoders round-trip.
//
// Usage (from anywhere):  node examples/kjv-tiny/check_tokenizer.mjs
// Needs /usr/bin/python3 with python3-regex (Debian) for the reference ids.
import { readFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const tokJson = JSON.parse(readFileSync(join(here, "tokenizer.json"), "utf8"));
const tokCfg = JSON.parse(readFileSync(join(here, "tokenizer_config.json"), "utf8"));
const tok = new Tokenizer(tokJson, tokCfg);

const cases = {
  empty: "",
  genesis: "In the beginning God created the heaven and the earth.",
  excerpt: readFileSync(join(here, "heldout-excerpt.txt"), "utf8"),
  heldout: readFileSync(join(here, "heldout.txt"), "utf8"),
  emoji: "Hello 👋🌍 world 🙏🏽 — amen! 👨‍👩‍👧",
  korean: "태초에 하나님이 천지를 창조하시니라. 안녕하세요 세계!",
  mixed: "  leading spaces,\ttabs\n\nand  double  spaces   \n\n  Psalm 23:1 (1611) don't I'll we've ",
  specials: "<s>And God said</s> <pad><unk>x",
  unicode: "Ἐν ἀρχῇ ἦν ὁ λόγος — בְּרֵאשִׁית — café naïve 日本語",
};
if (existsSync(join(here, "train.txt"))) {
  cases.train_head = readFileSync(join(here, "train.txt"), "utf8").slice(0, 200000);
}

const py = `
import json, sys
sys.path.insert(0, ${JSON.stringify(here)})
from kjv_tokenizer import Tokenizer
tok = Tokenizer.from_file(${JSON.stringify(join(here, "tokenizer.json"))})
cases = json.load(sys.stdin)
out = {k: {"bos": tok.encode(v), "plain": tok.encode(v, add_special_tokens=False),
           "decoded": tok.decode(tok.encode(v, add_special_tokens=False), skip_special_tokens=False)}
       for k, v in cases.items()}
json.dump(out, sys.stdout)
`;
const ref = JSON.parse(execFileSync("/usr/bin/python3", ["-c", py], {
  input: JSON.stringify(cases), maxBuffer: 1 << 28, encoding: "utf8",
}));

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
let failed = 0;
for (const [name, text] of Object.entries(cases)) {
  const jsBos = Array.from(tok.encode(text).ids, Number);
  const jsPlain = Array.from(tok.encode(text, { add_special_tokens: false }).ids, Number);
  const r = ref[name];
  const checks = [
    ["ids with BOS", same(jsBos, r.bos)],
    ["ids without BOS", same(jsPlain, r.plain)],
    ["BOS first", text === "" ? same(jsBos, [tokJson.post_processor.special_tokens["<s>"].ids[0]]) : jsBos[0] === 1],
    ["js decode round trip", (jsPlain.length ? tok.decode(jsPlain, { skip_special_tokens: false }) : "") === text],
    ["py decode round trip", r.decoded === text],
  ];
  const bad = checks.filter(([, ok]) => !ok).map(([n]) => n);
  if (bad.length) {
    failed++;
    console.log(`FAIL ${name}: ${bad.join(", ")}`);
    console.log("  js :", JSON.stringify(jsPlain.slice(0, 40)));
    console.log("  py :", JSON.stringify(r.plain.slice(0, 40)));
  } else {
    console.log(`ok   ${name}: ${jsPlain.length} tokens` +
      (jsPlain.length <= 24 ? ` ${JSON.stringify(jsBos)}` : ""));
  }
}
const n = Object.keys(cases).length;
console.log(`${n - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
