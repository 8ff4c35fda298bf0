// The pure parts of the verbs' reports: plan summary (inspect), eval windows, bench's prompt, run's JSON keys.
import { summarizePlan } from '../../src/cli/inspect.js';
import { windows } from '../../src/cli/eval.js';
import { randomPrompt } from '../../src/cli/bench.js';
import { jsonReport } from '../../src/cli/run.js';
import { reportError } from '../../src/cli/report-error.js';
import { LlmcError } from '../../src/errors.js';
import { jest } from '@jest/globals';
import type { Plan } from '../../src/cli/compiler.js';
import type { GenerationResult } from '../../src/runtime/generation.js';

test('summarizePlan: nodes per op, one layer\'s nodes, weight bytes by dtype', () => {
  const node = (op: string, name: string) => ({ op, op_id: 0, name, inputs: [], outputs: [], attrs: {} });
  const plan = {
    values: [
      { id: 0, name: 'emb', kind: 'weight', dtype: 'f32', shape: [4, 2], offset: 0, nbytes: 32 },
      { id: 1, name: 'w', kind: 'weight', dtype: 'f16', shape: [2, 2], offset: 64, nbytes: 8 },
      { id: 2, name: 'x', kind: 'activation', rows: 'tokens', width: 2, arena_offset: 0 },
    ],
    nodes: [
      node('embedding', 'embed'),
      node('rms_norm', 'l0.attn_norm'), node('attention', 'l0.attn'),
      node('rms_norm', 'l1.attn_norm'), node('attention', 'l1.attn'),
      node('linear', 'logits'),
    ],
  } as unknown as Plan;
  const s = summarizePlan(plan);
  expect(s.nodes).toBe(6);
  expect(s.nodes_per_op).toEqual({ rms_norm: 2, attention: 2, embedding: 1, linear: 1 });
  expect(s.layers).toBe(2);
  expect(s.layers_identical).toBe(true);
  expect(s.layer_nodes).toEqual(['attn_norm', 'attn']);
  expect(s.other_nodes).toEqual(['embed', 'logits']);
  expect(s.weight_bytes_by_dtype).toEqual({ f32: 32, f16: 8 });
});

test('eval windows: non-overlapping, a last window of one token is dropped', () => {
  expect(windows([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2, 3], [4, 5, 6]]);
  expect(windows([1, 2, 3, 4, 5, 6, 7, 8], 3)).toEqual([[1, 2, 3], [4, 5, 6], [7, 8]]);
  expect(windows([1], 3)).toEqual([]);
});

test('bench prompt: deterministic ids inside the vocabulary', () => {
  const a = randomPrompt(1000, 50);
  expect(a).toEqual(randomPrompt(1000, 50));
  expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...a)).toBeLessThan(50);
  expect(new Set(a).size).toBeGreaterThan(40);
});

test('run --json object: the documented keys in order; text only with a tokenizer', () => {
  const r: GenerationResult = {
    outputIds: [5, 6], text: 'hi', stopReason: 'eos', promptTokens: 3, maxNewTokens: 8,
    logitsShape: null, prefillMs: 1.5, decodeMs: 2, tpotMs: 2, queueMs: 0, cachedTokens: 0, preemptions: 0, logprobs: null,
  };
  expect(Object.keys(jsonReport(r, true))).toEqual(['output_ids', 'logits_shape', 'text', 'stop_reason', 'prompt_tokens', 'ttft_ms', 'tpot_ms']);
  expect(jsonReport(r, false)).toEqual({ output_ids: [5, 6], logits_shape: null, stop_reason: 'eos', prompt_tokens: 3, ttft_ms: 1.5, tpot_ms: 2 });
});

describe('reportError', () => {
  let written = '';
  const savedDebug = process.env.LLMC_DEBUG;
  beforeEach(() => {
    written = '';
    delete process.env.LLMC_DEBUG;
    jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      written += String(s);
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    if (savedDebug !== undefined) process.env.LLMC_DEBUG = savedDebug;
  });

  test('LlmcError: one line, exit 1', () => {
    expect(reportError(new LlmcError('LIMIT', 'too long\nreally', 'shorten it'))).toBe(1);
    expect(written).toBe('error: too long really; shorten it\n');
  });

  test('unexpected error: one line with the LLMC_DEBUG hint, no stack', () => {
    expect(reportError(new TypeError('x is not a function'))).toBe(1);
    expect(written).toBe('error: x is not a function (set LLMC_DEBUG=1 for the stack)\n');
  });

  test('LLMC_DEBUG=1 adds the stack', () => {
    process.env.LLMC_DEBUG = '1';
    reportError(new Error('boom'));
    expect(written.split('\n')[0]).toBe('error: boom');
    expect(written).toMatch(/\n\s+at /);
  });
});
