// JSON read from files (checkpoints, engines, tokenizers) is parsed with JSON.parse, which copes with any nesting,
// but the code after it walks values recursively (JSON.stringify in error messages, the tokenizer library, deep
// copies) and would overflow the stack on a hostile document nested 100,000 deep. No real config comes close
// to MAX_JSON_DEPTH, so deeper documents are refused at parse time, as a SyntaxError the callers already turn into
// their one-line "is not valid JSON" error.
export const MAX_JSON_DEPTH = 100;

/** True when `value` nests arrays/objects more than `max` levels deep (iterative: safe on any input). */
export function jsonDepthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** JSON.parse that also refuses documents nested deeper than MAX_JSON_DEPTH. */
export function parseJson(text: string): unknown {
  const v = JSON.parse(text) as unknown;
  if (jsonDepthExceeds(v)) throw new SyntaxError(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
  return v;
}
