// The CLI's error contract: one line on stderr, `error: <message>`, and an exit code; a stack trace only with
// LLMC_DEBUG=1. Exit codes: 0 ok, 1 an LlmcError or an unexpected failure, 2 a usage error (bad flag, bad value).
import { CommanderError } from 'commander';
import { LlmcError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

const debug = () => Boolean(process.env.LLMC_DEBUG) && process.env.LLMC_DEBUG !== '0';

/** Newlines (commander's "(Did you mean ...?)", native messages) folded so the message stays on one line. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

function printError(message: string): void {
  process.stderr.write(`error: ${oneLine(message.replace(/^error:\s*/, ''))}\n`);
}

/** Prints the error as the contract says and returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return EXIT_OK;
    // Commander already printed the help for a bare `llmc` (code commander.help); anything else is a usage error.
    if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') return EXIT_USAGE;
    printError(e.message);
    return EXIT_USAGE;
  }
  if (e instanceof LlmcError) {
    printError(e.message);
    if (debug() && e.stack) process.stderr.write(`${e.stack}\n`);
    return EXIT_FAILURE;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  if (debug()) {
    printError(err.message);
    process.stderr.write(`${err.stack ?? ''}\n`);
  } else {
    printError(`${err.message || err.name} (set LLMC_DEBUG=1 for the stack)`);
  }
  return EXIT_FAILURE;
}
