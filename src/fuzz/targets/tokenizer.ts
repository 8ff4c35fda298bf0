// Tokenizer inputs: tokenizer.json + tokenizer_config.json as an engine carries them (load, encode, decode), and
// the chat template alone (parse and render with a conversation). Corpus: the kjv-tiny example's tokenizer and the
// llama3 tokenizer_config (with its chat template) the tests use.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeChat, renderChatTemplate } from '../../runtime/chat-template.js';
import { TextTokenizer } from '../../runtime/tokenizer.js';
import { repoRoot, writeFiles } from '../corpus.js';
import { mutateBytes } from '../mutate-bytes.js';
import { mutateFiles, type FuzzCase, type FuzzTarget } from '../target.js';
import type { Rng } from '../rng.js';

const KJV = join(repoRoot, 'examples', 'kjv-tiny');
const LLAMA3 = join(repoRoot, 'node_modules', '@lenml', 'tokenizer-llama3', 'models');
const TEXTS = ['', 'In the beginning God created the heaven and the earth.', 'héllo wörld 😀 \u0000 \ud800 end', ' '.repeat(300), 'a'.repeat(5000)];

function llama3Config(): Buffer | null {
  const p = join(LLAMA3, 'tokenizer_config.json');
  return existsSync(p) ? readFileSync(p) : null;
}

export const tokenizerTarget: FuzzTarget = {
  name: 'tokenizer',
  what: 'tokenizer.json + tokenizer_config.json: load, encode, decode, chat template',
  corpus() {
    const tok = readFileSync(join(KJV, 'tokenizer.json'));
    const out: FuzzCase[] = [{ files: { 'tokenizer.json': tok, 'tokenizer_config.json': readFileSync(join(KJV, 'tokenizer_config.json')) } }];
    const l3 = llama3Config();
    if (l3) out.push({ files: { 'tokenizer.json': tok, 'tokenizer_config.json': l3 } });
    return out;
  },
  run(c, dir) {
    writeFiles(dir, c.files);
    const tok = TextTokenizer.load(dir);
    if (tok === null) return;
    for (const t of TEXTS) tok.encode(t);
    tok.encode(TEXTS[1], false);
    tok.decode([0, 1, 2, 3, 100, 511, 4095]);
    tok.decode([5, 6, 7], false);
    if (tok.chatTemplate() !== null) encodeChat(tok, TEXTS[2], 'be brief');
  },
};

/** Jinja pieces spliced into templates: statements, filters, loops, the things that make a renderer work hard. */
const JINJA_PIECES = [
  '{% for m in messages %}', '{% endfor %}', '{% if add_generation_prompt %}', '{% endif %}', '{{ m.content }}',
  '{{ bos_token }}', '{{ raise_exception("no") }}', '{% set x = 1 %}', '{{ x | trim }}', '{{ messages[0]["role"] }}',
  '{% for i in range(100) %}{{ i }}{% endfor %}', '{{ "a" * 1000 }}', '{{ loop.index }}', '{%', '%}', '{{', '}}',
  '{# c #}', '{{ m.content | tojson }}', '{% macro f() %}x{% endmacro %}{{ f() }}', '{{ none.x }}', '{{ 1 / 0 }}',
];

function mutateTemplate(rng: Rng, template: string): string {
  let t = template;
  for (let k = rng.count(4); k > 0; k--) {
    const at = rng.int(t.length + 1);
    switch (rng.int(4)) {
      case 0: t = t.slice(0, at) + rng.pick(JINJA_PIECES) + t.slice(at); break;
      case 1: t = t.slice(0, at) + t.slice(at + rng.count(40)); break;
      case 2: { const from = rng.int(t.length); t = t.slice(0, at) + t.slice(from, from + rng.count(60)) + t.slice(at); break; }
      default: t = mutateBytes(rng, Buffer.from(t, 'utf8')).toString('utf8');
    }
  }
  return t;
}

export const chatTemplateTarget: FuzzTarget = {
  name: 'chat-template',
  what: 'tokenizer_config.json chat_template: parse and render a conversation',
  corpus() {
    const l3 = llama3Config();
    const templates = l3 ? [String(JSON.parse(l3.toString('utf8')).chat_template)] : [];
    templates.push('{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}');
    return templates.map((t) => ({ files: { template: Buffer.from(t, 'utf8') } }));
  },
  mutate: (rng, base, corpus) => rng.chance(0.7) && base.files.template !== undefined
    ? { files: { template: Buffer.from(mutateTemplate(rng, base.files.template.toString('utf8')), 'utf8') } }
    : mutateFiles(rng, base, corpus),
  run(c) {
    if (c.files.template === undefined) return;
    const messages = [{ role: 'system', content: 'sys' }, { role: 'user', content: 'hi {{ x }} {% y %}' }, { role: 'assistant', content: '' }];
    renderChatTemplate(c.files.template.toString('utf8'), messages, { bos_token: '<s>', eos_token: '</s>' });
  },
};
