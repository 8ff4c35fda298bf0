// `llmc` entry point (bin/llmc.js imports this from dist/). One file per verb; this one wires them into commander
// and applies the error contract of report-error.ts.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerBuild } from './build.js';
import { registerEval } from './eval.js';
import { registerInspect } from './inspect.js';
import { registerRun } from './run.js';
import { registerVerify } from './verify.js';
import { registerDiff } from './diff.js';
import { registerCache } from './cache.js';
import { reportError } from './report-error.js';
import { registerServe } from './serve.js';
import { registerBenchServe } from './bench-serve.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function createProgram(): Command {
  const program = new Command('llmc')
    .description('A model compiler for LLMs: compile a HuggingFace checkpoint into an engine, then run it natively.')
    .version(version(), '-V, --version')
    .showSuggestionAfterError(true)
    // Errors are printed by reportError (one line); commander only throws them.
    .configureOutput({ outputError: () => {} })
    .exitOverride();
  program.addHelpText('after', `
Examples:
  llmc build ./TinyLlama -o engines/tinyllama --dtype float16
  llmc run engines/tinyllama --prompt "The capital of France is" --max-new-tokens 32 --stream
  llmc run engines/tinyllama --token-ids 1,450,7483 --json
  llmc inspect engines/tinyllama
  llmc bench engines/tinyllama --prompt-len 128 --gen-len 128

Set LLMC_DEBUG=1 to see stack traces.`);
  // Subcommands made through program.command() inherit exitOverride / configureOutput.
  registerBuild(program);
  registerRun(program);
  registerInspect(program);
  registerBench(program);
  registerEval(program);
  registerServe(program);
  registerBenchServe(program);
  registerVerify(program);
  registerDiff(program);
  registerCache(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  // `llmc run ... | head` closes stdout early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  try {
    await createProgram().parseAsync(argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}
