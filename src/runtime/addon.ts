// Lazy loader of the native addon (build/Release/llmc.node). Only commands that execute an engine load it, so
// `llmc build` and `llmc inspect` work on a machine where the C++ side was never built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlmcError } from '../errors.js';
import type { Addon } from './addon-types.js';

// This file is dist/runtime/addon.js when built and src/runtime/addon.ts under jest: the repo root is two up.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ADDON_PATH = join(repoRoot, 'build', 'Release', 'llmc.node');

// The C API and engine format this TypeScript was written against (native/include/llmc/llmc.h).
const EXPECTED_API_VERSION = 1;

let cached: Addon | undefined;

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}

/** The addon, loaded on first use. LLMC_ADDON=path overrides where it is looked for. */
export function loadAddon(): Addon {
  if (cached) return cached;
  const path = process.env.LLMC_ADDON || ADDON_PATH;
  const fix = 'run `npm run build:native`';
  if (!existsSync(path)) {
    throw new LlmcError('RUNTIME', `native addon not built: ${fix} (${path} does not exist)`);
  }
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (e) {
    // Typical causes: built for another Node ABI, a runtime symbol missing (partial build), wrong architecture.
    throw new LlmcError('RUNTIME', `native addon not built: ${fix} (loading ${path} failed: ${firstLine((e as Error).message)})`);
  }
  if (addon.apiVersion !== EXPECTED_API_VERSION) {
    throw new LlmcError('VERSION', `native addon speaks C API version ${addon.apiVersion}, this llmc expects ${EXPECTED_API_VERSION}`,
      'rebuild it: `npm run build:native`');
  }
  cached = addon;
  return addon;
}
