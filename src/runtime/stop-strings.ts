// Stop strings over streamed text. The text is checked after every token; on a match generation is cancelled and
// the output ends just before the stop string. While streaming, the tail of the text that could still grow into
// a stop string is held back, so the stop string (or a piece of it) is never printed.

export interface StopMatch {
  index: number;  // where the stop string starts in the text
  stop: string;
}

export class StopStringMatcher {
  readonly stops: string[];
  private readonly longest: number;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
    this.longest = this.stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  get empty(): boolean {
    return this.stops.length === 0;
  }

  /**
   * The earliest match in `text`. `searchFrom` is a hint: text before it was already searched with no match,
   * so only the region a new match could touch is scanned (matches can straddle the boundary).
   */
  find(text: string, searchFrom = 0): StopMatch | null {
    const start = Math.max(0, searchFrom - this.longest + 1);
    let best: StopMatch | null = null;
    for (const stop of this.stops) {
      const i = text.indexOf(stop, start);
      if (i >= 0 && (best === null || i < best.index)) best = { index: i, stop };
    }
    return best;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  holdBack(text: string): number {
    const max = Math.min(this.longest - 1, text.length);
    for (let n = max; n > 0; n--) {
      const tail = text.slice(text.length - n);
      if (this.stops.some((s) => s.startsWith(tail))) return n;
    }
    return 0;
  }
}
