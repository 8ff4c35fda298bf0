// The engine's text tokenizer: ENGINE/tokenizer.json + tokenizer_config.json (copied from the checkpoint at build
// time) through @huggingface/tokenizers, which matches the Rust/Python tokenizers' ids (see shared notes).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { LlmcError } from '../errors.js';
import { parseJson } from '../json-depth.js';

type TokenSpec = string | { content?: string } | null | undefined;

export interface TokenizerConfig {
  bos_token?: TokenSpec;
  eos_token?: TokenSpec;
  pad_token?: TokenSpec;
  unk_token?: TokenSpec;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  chat_template?: string | { name: string; template: string }[];
  [key: string]: unknown;
}

/** tokenizer_config.json writes special tokens either as strings or as AddedToken objects. */
function tokenText(t: TokenSpec): string | undefined {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof t.content === 'string') return t.content;
  return undefined;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return parseJson(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new LlmcError('BAD_ENGINE', `cannot read ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export class TextTokenizer {
  readonly config: TokenizerConfig;
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  private readonly tok: Tokenizer;

  constructor(tokenizerJson: Record<string, unknown>, config: TokenizerConfig) {
    this.config = config;
    try {
      this.tok = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      throw new LlmcError('BAD_ENGINE', `tokenizer.json is not usable: ${(e as Error).message.split('\n')[0]}`);
    }
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    this.bosTokenId = this.bosToken !== undefined ? this.guard('look up bos_token', () => this.tok.token_to_id(this.bosToken!)) : undefined;
    this.eosTokenId = this.eosToken !== undefined ? this.guard('look up eos_token', () => this.tok.token_to_id(this.eosToken!)) : undefined;
  }

  /** null when the engine has no tokenizer.json (the checkpoint had none). */
  static load(dir: string): TextTokenizer | null {
    const tokPath = join(dir, 'tokenizer.json');
    if (!existsSync(tokPath)) return null;
    const cfgPath = join(dir, 'tokenizer_config.json');
    const config = existsSync(cfgPath) ? (readJson(cfgPath) as TokenizerConfig) : {};
    return new TextTokenizer(readJson(tokPath), config);
  }

  /**
   * Text -> ids. With addSpecialTokens the tokenizer's post-processor adds BOS/EOS as transformers does; when
   * tokenizer_config sets add_bos_token / add_eos_token and the post-processor did not, they are added here.
   */
  encode(text: string, addSpecialTokens = true): number[] {
    const ids = this.guard('encode text', () => this.tok.encode(text, { add_special_tokens: addSpecialTokens }).ids);
    if (!addSpecialTokens) return ids;
    if (this.config.add_bos_token === true && this.bosTokenId !== undefined && ids[0] !== this.bosTokenId) {
      ids.unshift(this.bosTokenId);
    }
    if (this.config.add_eos_token === true && this.eosTokenId !== undefined && ids[ids.length - 1] !== this.eosTokenId) {
      ids.push(this.eosTokenId);
    }
    return ids;
  }

  /** ids -> text. Special tokens are skipped by default (EOS, chat markers), as in generated-text output. */
  decode(ids: readonly number[], skipSpecialTokens = true): string {
    if (ids.length === 0) return '';  // the JS tokenizer throws on an empty list
    return this.guard('decode token ids', () => this.tok.decode(Array.from(ids), { skip_special_tokens: skipSpecialTokens }));
  }

  /** The tokenizer library on a damaged tokenizer.json can fail anywhere; its failure becomes one BAD_ENGINE line. */
  private guard<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw new LlmcError('BAD_ENGINE', `tokenizer.json cannot ${what}: ${String((e as Error)?.message ?? e).split('\n')[0]}`,
        'rebuild the engine from a checkpoint with a working tokenizer.json');
    }
  }

  tokenToId(token: string): number | undefined {
    return this.guard('look up a token', () => this.tok.token_to_id(token));
  }

  /** The chat template named "default" (or the only one), or null when the model has none. */
  chatTemplate(): string | null {
    const t = this.config.chat_template;
    if (typeof t === 'string') return t;
    if (Array.isArray(t)) return (t.find((x) => x.name === 'default') ?? t[0])?.template ?? null;
    return null;
  }

  /** Special token strings for chat templates ({{ bos_token }} ...). */
  specialTokenStrings(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const) {
      const text = tokenText(this.config[key]);
      if (text !== undefined) out[key] = text;
    }
    return out;
  }
}
