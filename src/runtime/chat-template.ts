// Renders the model's chat template (tokenizer_config.json chat_template) with @huggingface/jinja, which matches
// Python Jinja2 as transformers uses it. The rendered text already holds BOS and role markers, so it is encoded
// without adding special tokens again (transformers' apply_chat_template(tokenize=True) does the same).
import { Template } from '@huggingface/jinja';
import { LlmcError } from '../errors.js';
import type { TextTokenizer } from './tokenizer.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

// The template engine's lexer takes time quadratic in the length of a run of whitespace (32 KiB of spaces: over a
// second), so a hostile tokenizer_config.json could stall `llmc run`. Real templates are a few KiB with short
// indentation runs; these bounds are far above them and keep the worst case well under a second.
export const MAX_CHAT_TEMPLATE_CHARS = 256 * 1024;
export const MAX_TEMPLATE_WHITESPACE_RUN = 1024;

/** Why `template` is refused before parsing (too long, or an absurd whitespace run), or null. */
export function templateSizeProblem(template: string): string | null {
  if (template.length > MAX_CHAT_TEMPLATE_CHARS) return `is ${template.length} characters long, over the ${MAX_CHAT_TEMPLATE_CHARS} llmc accepts`;
  let run = 0;
  for (let i = 0; i < template.length; i++) {
    const c = template.charCodeAt(i);
    run = c === 32 || c === 9 || c === 10 || c === 13 ? run + 1 : 0;
    if (run > MAX_TEMPLATE_WHITESPACE_RUN) return `has a run of more than ${MAX_TEMPLATE_WHITESPACE_RUN} whitespace characters`;
  }
  return null;
}

export function renderChatTemplate(
  template: string,
  messages: ChatMessage[],
  specialTokens: Record<string, string>,
  addGenerationPrompt = true,
): string {
  const tooBig = templateSizeProblem(template);
  if (tooBig) throw new LlmcError('BAD_ENGINE', `the chat_template in tokenizer_config.json ${tooBig}`, 'fix the template in tokenizer_config.json');
  let parsed: Template;
  try {
    parsed = new Template(template);
  } catch (e) {
    throw new LlmcError('BAD_ENGINE', `the chat_template in tokenizer_config.json does not parse: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    return parsed.render({ messages, add_generation_prompt: addGenerationPrompt, ...specialTokens });
  } catch (e) {
    // raise_exception() in templates reports things like "roles must alternate": pass its words on.
    throw new LlmcError('BAD_ARGUMENT', `the chat template refused the conversation: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** One user turn, rendered with the engine's template and tokenized. */
export function encodeChat(tokenizer: TextTokenizer, userText: string, system?: string): number[] {
  const template = tokenizer.chatTemplate();
  if (template === null) throw new LlmcError('BAD_ARGUMENT', 'this model has no chat_template; drop --chat');
  const messages: ChatMessage[] = [];
  if (system !== undefined) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: userText });
  return tokenizer.encode(renderChatTemplate(template, messages, tokenizer.specialTokenStrings()), false);
}
