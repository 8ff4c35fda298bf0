// A target that misbehaves on purpose, so the tests can check that the harness reports an exception and a hang
// (and survives both), a process that aborts (what a V8 fatal error or a native crash does to the whole process), and a mutator that throws (a bug in the fuzzer: reported, and the run goes on). Listed only with LLMC_FUZZ_SELFTEST=1.
import { LlmcError } from '../../errors.js';
import type { FuzzTarget } from '../target.js';

export const harnessCheckTarget: FuzzTarget = {
  name: 'harness-check',
  what: 'self test of the fuzz harness: accepts, rejects, throws a TypeError, hangs, aborts the process, a mutator that throws',
  corpus: () => ['ok', 'reject', 'boom', 'hang', 'abort', 'mutator'].map((w) => ({ files: {}, argv: [w] })),
  mutate: (rng, base) => {
    if (base.argv![0] === 'mutator') throw new RangeError('a mutator bug');
    return base;
  },
  run(c) {
    const w = c.argv![0];
    if (w === 'reject') throw new LlmcError('BAD_ARGUMENT', 'rejected');
    if (w === 'boom') throw new TypeError('boom');
    if (w === 'hang') for (;;) { /* a parser stuck in a loop */ }
    if (w === 'abort') process.abort();   // like V8's "invalid size error": no exception, the process is gone
  },
};
