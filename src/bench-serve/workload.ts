// The synthetic serving workload: N requests with random token-id prompts and output lengths drawn from the given
// ranges (prompts uniformly; outputs uniformly or log-uniformly: many short answers, a few long ones, as in chat
// traffic), and (with a rate) Poisson arrival times. Seeded, so every batching mode sees the same requests.

export interface LengthRange {
  min: number;
  max: number;
}

export interface WorkItem {
  prompt: number[];
  maxTokens: number;
  arrivalMs: number;  // offset from the start of the run (0 for closed-loop runs)
}

// mulberry32: a small deterministic PRNG for workloads.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type LengthDist = 'uniform' | 'log-uniform';

const pick = (r: () => number, range: LengthRange) => range.min + Math.floor(r() * (range.max - range.min + 1));
// log-uniform: ln(length) uniform in [ln min, ln(max + 1)), so each doubling of the length is equally likely.
const pickLog = (r: () => number, range: LengthRange) =>
  Math.min(range.max, Math.floor(Math.exp(Math.log(range.min) + r() * (Math.log(range.max + 1) - Math.log(range.min)))));

/** Token ids avoid the lowest ids, where tokenizers keep special tokens (BOS/EOS/pad). */
export function makeWorkload(n: number, input: LengthRange, output: LengthRange, vocab: number, seed: number, ratePerS?: number,
  outputDist: LengthDist = 'uniform'): WorkItem[] {
  const r = rng(seed);
  const low = Math.min(16, vocab - 1);
  const items: WorkItem[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    const prompt = Array.from({ length: pick(r, input) }, () => low + Math.floor(r() * (vocab - low)));
    if (ratePerS) t += (-Math.log(1 - r()) / ratePerS) * 1000;  // exponential gaps
    items.push({ prompt, maxTokens: outputDist === 'log-uniform' ? pickLog(r, output) : pick(r, output), arrivalMs: ratePerS ? t : 0 });
  }
  return items;
}
