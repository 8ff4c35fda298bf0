// Flag value parsers for commander. Each rejects nonsense with InvalidArgumentError, which commander turns into
// one line: "option '--top-p <p>' argument '1.5' is invalid. must be a number in (0, 1] (1 = off)".
import { InvalidArgumentError } from 'commander';
import { RANGES, type RangeCheck } from '../runtime/sampling.js';

const INTEGER = /^\+?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A whole number in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
  return (value: string) => {
    const v = INTEGER.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new InvalidArgumentError(`must be ${range}`);
    return v;
  };
}

/** A number checked against one of the runtime's ranges (src/runtime/sampling.ts), so both say the same. */
export function rangeArg(check: RangeCheck): (value: string) => number {
  return (value: string) => {
    const v = NUMBER.test(value.trim()) ? Number(value) : NaN;
    if (!check.ok(v)) throw new InvalidArgumentError(`must be ${check.range}`);
    return v;
  };
}

export const samplingArgs = {
  temperature: rangeArg(RANGES.temperature),
  topK: rangeArg(RANGES.topK),
  topP: rangeArg(RANGES.topP),
  repetitionPenalty: rangeArg(RANGES.repetitionPenalty),
  seed: rangeArg(RANGES.seed),
  maxNewTokens: rangeArg(RANGES.maxNewTokens),
};

/** "5,17,42" -> [5, 17, 42]. Range against the vocabulary is checked once the engine is loaded. */
export function tokenIdsArg(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0 || parts.some((p) => !INTEGER.test(p) || !Number.isSafeInteger(Number(p)))) {
    throw new InvalidArgumentError('must be comma-separated token ids, e.g. 5,17,42');
  }
  return parts.map(Number);
}

/** For repeatable flags (--stop A --stop B). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A non-empty string (paths, prompts given as `--prompt ""` are allowed elsewhere). */
export function nonEmpty(what: string): (value: string) => string {
  return (value: string) => {
    if (value.trim() === '') throw new InvalidArgumentError(`${what} must not be empty`);
    return value;
  };
}

export const threadsArg = intArg(1, 4096);

/** --backend cpu|cuda (run, bench): default the engine's target backend. */
export const BACKENDS = ['cpu', 'cuda'] as const;
export type BackendName = (typeof BACKENDS)[number];
