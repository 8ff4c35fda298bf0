// Structure-aware JSON mutation: parse the corpus document, change one node (extreme numbers, wrong types, wrong
// shapes, removed or unknown keys, swapped values, deep nesting, long strings), serialize again. Deep nesting is
// produced as text so the mutator itself never recurses deeply.
import type { Rng } from './rng.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Slot = { parent: Json[] | { [k: string]: Json }; key: string | number; value: Json };

const DEEP_MARKER = '\u0000llmc-fuzz-deep\u0000';
// Growth mutations (repeated elements, deep nesting spliced at every copy of the marker) are cut down to about this
// many characters, so that rounds compounding them never build a string past V8's limit (was: a mutator
// RangeError "Invalid string length" that ended the http run). Inputs under it are unchanged.
const MAX_GROWTH_CHARS = 32 * 1024 * 1024;

export const EXTREME_NUMBERS: readonly number[] = [
  0, -1, 1, -0, 0.5, 1.5, -2147483649, 2147483647, 2147483648, 4294967295, 4294967296, 2 ** 53, 2 ** 53 + 2,
  2 ** 63, 2 ** 64, 1e308, -1e308, 5e-324, 1e-7, 65536, 4096, 64, 3,
];

const WRONG_TYPE_VALUES: readonly Json[] = [null, true, false, '', 'f32', 'I8', '__proto__', [], [0], [[1, 2]], {}, { a: 1 }, -1, 1e300];

/** Fresh copies: the mutator later edits what it inserted, so constants must never be shared. */
const wrongType = (rng: Rng): Json => structuredClone(rng.pick(WRONG_TYPE_VALUES));

function slots(root: Json, limit = 20000): Slot[] {
  const out: Slot[] = [];
  const stack: Json[] = [root];
  while (stack.length && out.length < limit) {
    const v = stack.pop()!;
    if (Array.isArray(v)) {
      v.forEach((x, i) => { out.push({ parent: v, key: i, value: x }); stack.push(x); });
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) { out.push({ parent: v, key: k, value: v[k] }); stack.push(v[k]); }
    }
  }
  return out;
}

function set(s: Slot, v: Json): void {
  (s.parent as Record<string | number, Json>)[s.key] = v;
}

function remove(s: Slot): void {
  if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
  else delete s.parent[s.key as string];
}

/** Mutates `doc` (a parsed copy) in place `rounds` times; returns the text, possibly with deep nesting spliced in. */
export function mutateJsonValue(rng: Rng, doc: Json, rounds: number): string {
  let deep = 0;
  for (let r = 0; r < rounds; r++) {
    const all = slots(doc);
    if (all.length === 0) break;
    // Numbers and arrays of numbers (shapes, offsets, sizes) are where parsers go wrong most: prefer them.
    const numeric = all.filter((s) => typeof s.value === 'number');
    const s = numeric.length && rng.chance(0.4) ? rng.pick(numeric) : rng.pick(all);
    switch (rng.int(12)) {
      case 0: case 1: set(s, rng.pick(EXTREME_NUMBERS)); break;
      case 2: set(s, typeof s.value === 'number' ? s.value + rng.pick([1, -1, 64, -64, 4096]) : rng.pick(EXTREME_NUMBERS)); break;
      case 3: set(s, wrongType(rng)); break;
      case 4: remove(s); break;
      case 5: {  // copy another node's value here (overlapping offsets, swapped shapes, a weight's fields on an activation)
        set(s, JSON.parse(JSON.stringify(rng.pick(all).value ?? null)) as Json);
        break;
      }
      case 6: {  // unknown key / extra element
        if (Array.isArray(s.value)) s.value.push(wrongType(rng));
        else if (s.value !== null && typeof s.value === 'object') s.value[`fuzz_${rng.int(100)}`] = wrongType(rng);
        else set(s, [s.value, s.value]);
        break;
      }
      case 7: {  // shapes: empty, more dims, huge dims, negative dims
        set(s, structuredClone(rng.pick<Json>([[], [0], [-1], [2 ** 31], [2 ** 40, 2 ** 40], [1, 1, 1], [2 ** 53, 2], [65536, 65536, 65536]])));
        break;
      }
      case 8: deep++; set(s, DEEP_MARKER); break;
      case 9: set(s, 'x'.repeat(rng.pick([1000, 100000])) + (typeof s.value === 'string' ? s.value : '')); break;
      case 10: {  // array: empty it or repeat an element many times
        if (Array.isArray(s.value) && s.value.length && rng.chance(0.5)) {
          const el = s.value[0];
          const each = (JSON.stringify(el) ?? 'null').length + 1;
          const length = Math.max(1, Math.min(rng.pick([100, 10000]), Math.floor(MAX_GROWTH_CHARS / each)));
          set(s, Array.from({ length }, () => structuredClone(el)));
        } else if (Array.isArray(s.value)) set(s, []);
        else set(s, typeof s.value === 'string' ? String(rng.pick(EXTREME_NUMBERS)) : String(s.value));
        break;
      }
      default: {  // a string value changed: unicode, empty, a number-like string
        set(s, rng.pick<Json>(['', ' ', '\u0000', '\ud800', '😀', 'NaN', '1e999', String(s.value) + '\u202e', 'null']));
      }
    }
  }
  let text = JSON.stringify(doc) ?? 'null';
  if (deep > 0) {
    const markers = text.split(JSON.stringify(DEEP_MARKER)).length - 1;
    const depth = Math.max(1, Math.min(rng.pick([300, 5000, 100000]), Math.floor(MAX_GROWTH_CHARS / (6 * Math.max(1, markers)))));
    const open = rng.chance(0.5) ? '['.repeat(depth) : '{"a":'.repeat(depth);
    const close = open[0] === '[' ? ']'.repeat(depth) : '}'.repeat(depth);
    text = text.split(JSON.stringify(DEEP_MARKER)).join(`${open}1${close}`);
  }
  return text;
}

/** Parses `text` and mutates it; text that is not JSON gets a byte-level treatment from the caller instead. */
export function mutateJsonText(rng: Rng, text: string): string | null {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    return null;
  }
  return mutateJsonValue(rng, doc, rng.count(4));
}
