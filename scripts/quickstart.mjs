#!/usr/bin/env node
// `npm start`: the README quickstart in one command. Builds the bundled example model (examples/kjv-tiny) into an
// engine under .engines/ with the CPU backend, then generates a streamed continuation.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const model = join(root, 'examples', 'kjv-tiny');
const engine = join(root, '.engines', 'kjv-tiny');
const cli = join(root, 'bin', 'llmc.js');

function llmc(args) {
  console.log(`$ llmc ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(model, 'config.json'))) {
  console.error(`error: the example model is missing (${model}); restore it with \`git checkout examples/kjv-tiny\``);
  process.exit(1);
}
llmc(['build', model, '-o', engine, '--force']);
llmc(['run', engine, '--prompt', 'And God said', '--max-new-tokens', '48', '--temperature', '0.8', '--top-k', '40', '--seed', '7', '--stream']);
