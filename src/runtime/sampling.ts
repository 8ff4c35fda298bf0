// Sampling options and their ranges. The CLI parses flags with these checks; programmatic callers get the same
// messages. Each message names the flag (the CLI spelling) and its valid range, on one line.
import { LlmcError } from '../errors.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax), the default. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off; in (0, 1]. */
  topP: number;
  /** 1 = off; > 0 (HF semantics over prompt + generated tokens). */
  repetitionPenalty: number;
  /** Integer in [0, 2^53); the same seed gives the same tokens. Default 0, so runs are reproducible. */
  seed: number;
}

export const DEFAULT_SAMPLING: SamplingOptions = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

export interface RangeCheck {
  flag: string;
  /** Human wording of the valid range, e.g. "a number >= 0". */
  range: string;
  ok: (v: number) => boolean;
}

const isInt = (v: number) => Number.isInteger(v);

export const RANGES = {
  temperature: { flag: '--temperature', range: 'a number >= 0 (0 = greedy)', ok: (v: number) => Number.isFinite(v) && v >= 0 },
  topK: { flag: '--top-k', range: 'an integer >= 0 (0 = off)', ok: (v: number) => isInt(v) && v >= 0 && v <= 2 ** 31 - 1 },
  topP: { flag: '--top-p', range: 'a number in (0, 1] (1 = off)', ok: (v: number) => Number.isFinite(v) && v > 0 && v <= 1 },
  repetitionPenalty: { flag: '--repetition-penalty', range: 'a number > 0 (1 = off)', ok: (v: number) => Number.isFinite(v) && v > 0 },
  seed: { flag: '--seed', range: 'an integer in [0, 2^53)', ok: (v: number) => Number.isSafeInteger(v) && v >= 0 },
  maxNewTokens: { flag: '--max-new-tokens', range: 'an integer >= 0', ok: (v: number) => isInt(v) && v >= 0 && v <= 2 ** 31 - 1 },
} satisfies Record<string, RangeCheck>;

export function checkRange(check: RangeCheck, value: number): number {
  if (typeof value !== 'number' || !check.ok(value)) {
    throw new LlmcError('BAD_ARGUMENT', `${check.flag} must be ${check.range}, got ${String(value)}`);
  }
  return value;
}

/** Fills defaults and checks every field; throws LlmcError('BAD_ARGUMENT') naming the first bad one. */
export function validateSampling(s: Partial<SamplingOptions> = {}): SamplingOptions {
  const out: SamplingOptions = { ...DEFAULT_SAMPLING };
  for (const key of Object.keys(DEFAULT_SAMPLING) as (keyof SamplingOptions)[]) {
    const v = s[key];
    if (v === undefined) continue;
    out[key] = checkRange(RANGES[key], v);
  }
  return out;
}
