// llmc eval ENGINE --text FILE: perplexity of the file's text. The whole file is tokenized once, cut into
// non-overlapping windows of --ctx tokens, and each window is scored on its own (prefill only):
//   ppl = exp(sum of token NLLs / number of scored tokens)   (the first token of each window has no context)
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Command } from 'commander';
import { LlmcError } from '../errors.js';
import { Engine } from '../runtime/engine.js';
import { followRank0 } from './follow.js';
import { shardedRole } from '../runtime/ranks.js';
import { readEngineManifest } from '../runtime/manifest.js';
import { formatRate } from './format.js';
import { intArg, nonEmpty, threadsArg } from './parse.js';
import { ProgressBar } from './progress.js';

interface EvalFlags {
  text: string;
  ctx: number;
  threads?: number;
  json?: boolean;
}

/** Non-overlapping windows of `ctx` tokens; a last window of fewer than 2 tokens scores nothing and is dropped. */
export function windows(tokens: readonly number[], ctx: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < tokens.length; i += ctx) {
    const w = tokens.slice(i, i + ctx);
    if (w.length >= 2) out.push(w);
  }
  return out;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .summary('perplexity of a text file')
    .description('Perplexity of a text file: tokenized once without special tokens, cut into non-overlapping windows of --ctx tokens, each window scored on its own (every token after its first).')
    .argument('<engine_dir>', 'engine directory (needs its tokenizer)')
    .requiredOption('--text <file>', 'UTF-8 text file', nonEmpty('--text'))
    .option('--ctx <n>', 'tokens per window (at most max_seq_len)', intArg(2, 1 << 24), 256)
    .option('--threads <n>', 'CPU threads (default: all cores)', threadsArg)
    .option('--json', 'print one JSON object')
    .action(async (dir: string, flags: EvalFlags) => {
      if (!existsSync(flags.text) || !statSync(flags.text).isFile()) throw new LlmcError('NOT_FOUND', `--text: ${flags.text} is not a file`);
      const manifest = readEngineManifest(dir);
      if (flags.ctx > manifest.build.max_seq_len) {
        throw new LlmcError('LIMIT', `--ctx ${flags.ctx} exceeds this engine's max_seq_len ${manifest.build.max_seq_len}`);
      }
      const role = await shardedRole(dir, manifest, process.argv, flags.threads);
      const threads = role.kind === 'single' ? flags.threads : role.threads;
      if (role.kind === 'follower') return followRank0(dir, threads, undefined);
      const engine = await Engine.load(dir, { numThreads: threads });
      try {
        if (!engine.tokenizer) throw new LlmcError('BAD_ARGUMENT', 'llmc eval needs the engine\'s tokenizer, and this engine has none (tokenizer.json was not in the checkpoint)');
        // No special tokens: the file is one stream of text (no BOS per file or window), the definition
        // examples/kjv-tiny/eval_ppl.py uses, so the two figures can be compared.
        const tokens = engine.encodeText(readFileSync(flags.text, 'utf8'), false);
        const ws = windows(tokens, flags.ctx);
        if (ws.length === 0) throw new LlmcError('BAD_ARGUMENT', `--text: ${flags.text} has ${tokens.length} token(s); at least 2 are needed`);
        const bar = new ProgressBar(ws.length, 'eval');
        const started = performance.now();
        let nll = 0;
        let count = 0;
        for (let i = 0; i < ws.length; i++) {
          const s = await engine.score(ws[i]);
          nll += s.nll;
          count += s.count;
          const secs = (performance.now() - started) / 1000;
          bar.update(i + 1, `ppl ${Math.exp(nll / Math.max(count, 1)).toFixed(3)}, ${formatRate(count / secs, 'tok/s')}`);
        }
        bar.done();
        const seconds = (performance.now() - started) / 1000;
        const ppl = Math.exp(nll / count);
        const tokS = seconds > 0 ? count / seconds : null;
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ perplexity: ppl, nll_sum: nll, tokens: tokens.length, scored_tokens: count, windows: ws.length, ctx: flags.ctx, seconds, tok_s: tokS })}\n`);
        } else {
          process.stdout.write(`perplexity ${ppl.toFixed(4)} over ${count} scored tokens ` +
            `(${tokens.length} tokens, ${ws.length} windows of ${flags.ctx}); ${seconds.toFixed(1)} s, ${formatRate(tokS, 'tok/s')}\n`);
        }
      } finally {
        engine.close();
      }
    });
}
