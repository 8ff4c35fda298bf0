// Chat templates rendered with @huggingface/jinja: the llama3 template, the "no chat_template" error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeChat, renderChatTemplate } from '../../src/runtime/chat-template.js';
import { TextTokenizer } from '../../src/runtime/tokenizer.js';
import { LlmcError } from '../../src/errors.js';
import { llama3TokenizerDir } from './fake-engine.js';

const tokenizerJson = JSON.parse(readFileSync(join(llama3TokenizerDir, 'tokenizer.json'), 'utf8'));
const tokenizerConfig = JSON.parse(readFileSync(join(llama3TokenizerDir, 'tokenizer_config.json'), 'utf8'));
const tok = new TextTokenizer(tokenizerJson, tokenizerConfig);

describe('chat template', () => {
  test('llama3 template renders as transformers does', () => {
    const text = renderChatTemplate(tok.chatTemplate()!, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: '  Hi there ' },
    ], tok.specialTokenStrings());
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n');
  });

  test('encodeChat: one BOS (from the template, none added by the tokenizer), ends with the assistant header', () => {
    const ids = encodeChat(tok, 'Hello');
    expect(ids[0]).toBe(128000);
    expect(ids.filter((i) => i === 128000)).toHaveLength(1);
    const header = tok.encode('<|start_header_id|>assistant<|end_header_id|>\n\n', false);
    expect(ids.slice(-header.length)).toEqual(header);
  });

  test('a model without chat_template: tells the user to drop --chat', () => {
    const noTemplate = new TextTokenizer(tokenizerJson, { ...tokenizerConfig, chat_template: undefined });
    expect(() => encodeChat(noTemplate, 'Hello')).toThrow(new LlmcError('BAD_ARGUMENT', 'this model has no chat_template; drop --chat'));
  });

  test('named templates: the "default" one is used', () => {
    const named = new TextTokenizer(tokenizerJson, {
      ...tokenizerConfig,
      chat_template: [{ name: 'tool_use', template: 'TOOLS' }, { name: 'default', template: '{{ messages[0].content }}!' }],
    });
    expect(named.chatTemplate()).toBe('{{ messages[0].content }}!');
    expect(renderChatTemplate(named.chatTemplate()!, [{ role: 'user', content: 'x' }], {})).toBe('x!');
  });

  test('raise_exception in a template becomes a one-line BAD_ARGUMENT', () => {
    const t = "{% if messages[0].role != 'system' %}{{ raise_exception('first message must be system') }}{% endif %}";
    expect(() => renderChatTemplate(t, [{ role: 'user', content: 'x' }], {})).toThrow(/first message must be system/);
  });
});
