// The prompts `llmc verify` runs: a file (one prompt per line: comma-separated token ids, or text when the engine
// has a tokenizer) or N seeded random ones. Random prompts have different lengths, so the packed steps mix
// sequences of several lengths (prefill chunks and decode tokens of different positions).
import { existsSync, readFileSync } from 'node:fs';
import { LlmcError } from '../errors.js';

const IDS = /^\s*\d+(\s*,\s*\d+)*\s*$/;

/** splitmix64-style generator on 32-bit halves: reproducible in JS without BigInt per draw. */
function rng(seed: number): () => number {
  let s = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomPrompts(n: number, vocabSize: number, maxLen: number, seed = 0): number[][] {
  const next = rng(seed);
  const longest = Math.max(1, Math.min(16, maxLen));
  return Array.from({ length: n }, () => {
    const len = Math.min(longest, 2 + Math.floor(next() * (longest - 1)));
    return Array.from({ length: len }, () => Math.floor(next() * vocabSize));
  });
}

export function readPromptsFile(path: string, encode: ((text: string) => number[]) | null, vocabSize: number): number[][] {
  if (!existsSync(path)) throw new LlmcError('NOT_FOUND', `--prompts file ${path} does not exist`);
  const lines = readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new LlmcError('BAD_ARGUMENT', `--prompts file ${path} has no prompts`, 'write one prompt per line (text, or token ids like 5,17,42)');
  return lines.map((line, i) => {
    let ids: number[];
    if (IDS.test(line)) ids = line.split(',').map((x) => Number(x.trim()));
    else if (encode) ids = encode(line);
    else throw new LlmcError('BAD_ARGUMENT', `--prompts line ${i + 1} is text but the engine has no tokenizer`, 'write token ids (5,17,42)');
    const bad = ids.find((t) => !Number.isSafeInteger(t) || t < 0 || t >= vocabSize);
    if (bad !== undefined) throw new LlmcError('BAD_ARGUMENT', `--prompts line ${i + 1}: token id ${bad} is outside the vocabulary [0, ${vocabSize})`);
    if (ids.length === 0) throw new LlmcError('BAD_ARGUMENT', `--prompts line ${i + 1} encodes to no tokens`);
    return ids;
  });
}
