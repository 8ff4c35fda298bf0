// The CLI flag parser: argv lists like the README's, mutated token by token, through commander and llmc's value
// parsers (src/cli/parse.ts) with every command's action replaced by a no-op (the actions are fuzzed through
// their own targets). A clean rejection is a commander usage error or an LlmcError.
import { CommanderError, type Command } from 'commander';
import { createProgram } from '../../cli/main.js';
import { EXTREME_NUMBERS } from '../mutate-json.js';
import type { Rng } from '../rng.js';
import type { FuzzCase, FuzzTarget } from '../target.js';

const SEEDS: string[][] = [
  ['build', './TinyLlama', '-o', 'engines/tinyllama', '--dtype', 'float16'],
  ['build', '--dummy-weights', '--config', 'llama-2-7b', '-o', 'e', '--dummy-seed', '3', '--max-seq-len', '512'],
  ['build', 'hf', '-o', 'e', '--target', 'cuda', '--cuda-arch', 'sm_80,sm_90a', '--max-batch-size', '4', '--max-num-tokens', '64', '--force'],
  ['run', 'engines/tinyllama', '--prompt', 'The capital of France is', '--max-new-tokens', '32', '--stream'],
  ['run', 'e', '--token-ids', '1,450,7483', '--json', '--temperature', '0.7', '--top-k', '40', '--top-p', '0.9', '--seed', '1'],
  ['run', 'e', '--chat', '--prompt', 'hi', '--stop', 'A', '--stop', 'B', '--repetition-penalty', '1.1', '--threads', '2'],
  ['inspect', 'e', '--json', '--onnx', 'x.onnx'],
  ['bench', 'e', '--prompt-len', '128', '--gen-len', '128'],
  ['eval', 'e', '--help'],
  ['--version'],
];

const VALUES = ['', ' ', '-1', '0', '1e400', 'NaN', 'Infinity', '0x10', '1,,2', ',', '--', '-', '😀', '\ud800', 'a'.repeat(10000), '1.', '.5', '+3', '9007199254740993'];

function flagsOf(program: Command): string[] {
  const out = new Set<string>(['--help', '-h', '--version']);
  for (const c of program.commands) for (const o of c.options) { if (o.long) out.add(o.long); if (o.short) out.add(o.short); }
  return [...out];
}

let program: Command | null = null;
let flags: string[] = [];

function freshProgram(): Command {
  const p = createProgram();
  for (const c of p.commands) c.action(() => {});
  return p;
}

export const cliTarget: FuzzTarget = {
  name: 'cli',
  what: 'llmc argv: commander + the flag value parsers of every command (actions stubbed)',
  corpus: () => {
    program = freshProgram();
    flags = flagsOf(program);
    return SEEDS.map((argv) => ({ files: {}, argv }));
  },
  mutate(rng: Rng, base: FuzzCase, corpus: readonly FuzzCase[]): FuzzCase {
    const argv = [...base.argv!];
    for (let k = rng.count(4); k > 0; k--) {
      const at = rng.int(argv.length + 1);
      switch (rng.int(7)) {
        case 0: argv.splice(at, 0, rng.pick(flags)); break;
        case 1: if (argv.length) argv[Math.min(at, argv.length - 1)] = rng.pick(VALUES); break;
        case 2: if (argv.length) argv[Math.min(at, argv.length - 1)] = String(rng.pick(EXTREME_NUMBERS)); break;
        case 3: argv.splice(at, 1); break;
        case 4: argv.splice(at, 0, ...rng.pick(corpus).argv!.slice(1, 3)); break;
        case 5: argv.splice(at, 0, `${rng.pick(flags)}=${rng.pick(VALUES)}`); break;
        default: if (argv.length) { const i = Math.min(at, argv.length - 1); argv[i] = argv[i] + rng.pick(VALUES); }
      }
    }
    return { files: {}, argv };
  },
  async run(c) {
    // A fresh program per input: commander keeps option values on the Command between parses.
    const p = freshProgram();
    await p.parseAsync(['node', 'llmc', ...c.argv!]);
  },
  accepts: (e) => e instanceof CommanderError,
};
