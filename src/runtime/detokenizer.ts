// Incremental detokenization for streaming. Decoding one token at a time is wrong in two ways: a byte-level or
// byte-fallback token can hold part of a UTF-8 character (it decodes to U+FFFD until the rest arrives), and
// SentencePiece-style decoders drop the leading space of the first token of a decode. So each step decodes a
// short window that starts a few tokens back (the "prefix", already emitted) and emits only what the new tokens
// added, and only once it no longer ends in an incomplete character. The same technique as vLLM / TGI.

export type DecodeFn = (ids: number[]) => string;

const REPLACEMENT_CHAR = '\uFFFD';
// Prompt tokens kept as left context so the first generated token decodes with its leading space.
const CONTEXT_TOKENS = 5;

export class StreamingDetokenizer {
  private readonly ids: number[];
  private prefixOffset = 0;  // window start: tokens before it are never decoded again
  private readOffset: number;  // tokens before it have been emitted
  private emitted = '';

  constructor(private readonly decode: DecodeFn, promptIds: readonly number[] = []) {
    this.ids = promptIds.slice(-CONTEXT_TOKENS);
    this.readOffset = this.ids.length;
  }

  /** All text emitted so far. */
  get text(): string {
    return this.emitted;
  }

  /** Adds one generated token; returns the text that became stable (often '', e.g. mid-character). */
  push(id: number): string {
    this.ids.push(id);
    return this.advance(false);
  }

  /** End of generation: returns whatever is still held back (an incomplete character decodes as U+FFFD). */
  flush(): string {
    return this.advance(true);
  }

  private advance(final: boolean): string {
    if (this.readOffset >= this.ids.length) return '';
    const prefixText = this.decodeRange(this.prefixOffset, this.readOffset);
    const fullText = this.decodeRange(this.prefixOffset, this.ids.length);
    if (fullText.length <= prefixText.length) return '';  // e.g. a special token skipped in decoding
    if (!final && fullText.endsWith(REPLACEMENT_CHAR)) return '';  // wait for the rest of the character
    const delta = fullText.slice(prefixText.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.emitted += delta;
    return delta;
  }

  private decodeRange(start: number, end: number): string {
    return end > start ? this.decode(this.ids.slice(start, end)) : '';
  }
}
