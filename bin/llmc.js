#!/usr/bin/env node
// The llmc command. The CLI is TypeScript compiled to dist/ by `npm install`; this file only finds it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const mainUrl = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(mainUrl))) {
  process.stderr.write('error: llmc is not built: run `npm install` (or `npm run build:ts`) in the llmc directory\n');
  process.exit(1);
}
const { main } = await import(mainUrl.href);
await main(process.argv);
