// llmc's own version (package.json), recorded in every engine manifest.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function llmcVersion(): string {
  if (cached) return cached;
  try {
    // src/compiler/engine/version.ts and dist/compiler/engine/version.js are both three levels below the root.
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8'));
    cached = String(pkg.version);
  } catch {
    cached = '0.0.0';
  }
  return cached;
}
