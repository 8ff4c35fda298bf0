// A target that misbehaves on purpose, so the tests can check that the harness reports an exception and a hang
// (and survives both), and a mutator that throws (a bug in the fuzzer: reported, and the run goes on). Listed only with LLMC_FUZZ_SELFTEST=1.
import { LlmcError } from '../../errors.js';
import type { FuzzTarget } from '../target.js';

export const harnessCheckTarget: FuzzTarget = {
  name: 'harness-check',
  what: 'self test of the fuzz harness: accepts, rejects, throws a TypeError, hangs, a mutator that throws',
  corpus: () => ['ok', 'reject', 'boom', 'hang', 'mutator'].map((w) => ({ files: {}, argv: [w] })),
  mutate: (rng, base) => {
    if (base.argv![0] === 'mutator') throw new RangeError('a mutator bug');
    return base;
  },
  run(c) {
    const w = c.argv![0];
    if (w === 'reject') throw new LlmcError('BAD_ARGUMENT', 'rejected');
    if (w === 'boom') throw new TypeError('boom');
    if (w === 'hang') for (;;) { /* a parser stuck in a loop */ }
  },
};
