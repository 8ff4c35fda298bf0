// Generated token ids -> printable text, with stop strings: combines the incremental detokenizer and the stop
// string matcher. Pure logic (no engine), so it is unit-tested on its own.
import { StreamingDetokenizer, type DecodeFn } from './detokenizer.js';
import { StopStringMatcher } from './stop-strings.js';

export interface TextStreamStep {
  /** Text safe to show now (may be ''). */
  emit: string;
  /** True when this token completed a stop string: cancel generation, ignore later tokens. */
  stopped: boolean;
}

export class TextStream {
  private readonly detok: StreamingDetokenizer;
  private readonly matcher: StopStringMatcher;
  private text = '';      // everything decoded so far
  private shown = 0;      // text.slice(0, shown) has been emitted
  private searched = 0;   // text.slice(0, searched) holds no stop string
  private tokens = 0;
  private cut = 0;        // where the final text ends once a stop string matched
  /** Set once a stop string matched: the number of tokens up to and including the one that completed it. */
  stopTokenCount: number | null = null;
  matchedStop: string | null = null;

  constructor(decode: DecodeFn, promptIds: readonly number[], stops: readonly string[] = []) {
    this.detok = new StreamingDetokenizer(decode, promptIds);
    this.matcher = new StopStringMatcher(stops);
  }

  get stopped(): boolean {
    return this.stopTokenCount !== null;
  }

  /** The final text: generated text, cut before the stop string when one matched. */
  get finalText(): string {
    return this.text.slice(0, this.shownLimit());
  }

  push(id: number): TextStreamStep {
    if (this.stopped) return { emit: '', stopped: true };
    this.tokens++;
    this.text += this.detok.push(id);
    return this.step(false);
  }

  /** End of generation: emits what was held back (an incomplete character, a partial stop-string prefix). */
  finish(): string {
    if (this.stopped) return '';
    this.text += this.detok.flush();
    return this.step(true).emit;
  }

  private shownLimit(): number {
    return this.stopped ? this.cut : this.text.length;
  }

  private step(final: boolean): TextStreamStep {
    if (!this.matcher.empty) {
      const m = this.matcher.find(this.text, this.searched);
      this.searched = this.text.length;
      if (m) {
        this.stopTokenCount = this.tokens;
        this.matchedStop = m.stop;
        this.cut = m.index;
        const emit = this.text.slice(this.shown, Math.max(this.shown, m.index));
        this.shown = Math.max(this.shown, m.index);
        return { emit, stopped: true };
      }
    }
    const safe = final ? this.text.length : this.text.length - this.matcher.holdBack(this.text);
    const emit = safe > this.shown ? this.text.slice(this.shown, safe) : '';
    this.shown = Math.max(this.shown, safe);
    return { emit, stopped: false };
  }
}
