// Before a build writes anything: is the engine already there? First the output directory itself (an engine
// with the same content key: "up to date", nothing written), then the --cache-dir entry under the key (reused by
// hard links or copies). The fast path (same settings, inputs of the recorded size and mtime) decides without
// hashing, unless --rehash. Else, when the key is needed before the build (an engine with the same settings to
// compare with, or a --cache-dir lookup), every input span is hashed now, on a worker thread (hash-worker.ts);
// when it is not, hashing waits for beforeStreaming(): the engine writer names the spans it copies whole and
// hashes as it writes them, the worker hashes the rest meanwhile, and the key is taken when the manifest is
// written.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkIntegrity } from '../engine/integrity.js';
import { MANIFEST_FILE } from '../engine/format.js';
import { isEngineDir } from '../engine/out-dir.js';
import { computeKey, sameStats, statInputs, type BuildKey } from './build-key.js';
import { cacheLookup, cacheReuse } from './engine-cache.js';
import { startHashing, type PendingHashes } from './hash-worker.js';
import type { ThreadCpu } from '../engine/thread-cpu.js';
import { SpanStore } from '../engine/segment-digest.js';

/** How the inputs were hashed: bytes, seconds waited, on a worker thread or not, and that thread's CPU;
 * `fromEngine`: bytes of them whose sha256 the engine writer took as it copied them. */
export interface InputHashing { bytes: number; seconds: number; onWorker: boolean; cpu: ThreadCpu | null; fromEngine: number }

export interface KeyCheck {
  /** The content key (blocks until the inputs are hashed). */
  key: () => BuildKey;
  /** Set when nothing needs building: the manifest of the engine now at outDir, and how it got there. */
  done: { manifest: Record<string, unknown>; how: string } | null;
  /** Input bytes hashed for the key, and the seconds the build waited for them (after key() was called). */
  hashed: () => InputHashing;
  /** The engine writer's hook (writer.ts): the span keys whose sha256 it will put in the store; hashing starts. */
  beforeStreaming: (supplied: Set<string>) => void;
}

function readManifest(dir: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The engine's files still have their recorded sizes (a cheap check for the fast path). */
function sizesMatch(dir: string, m: Record<string, unknown>): boolean {
  const files = (m.integrity as { files?: Record<string, { bytes: number }> } | undefined)?.files;
  if (!files) return false;
  return Object.entries(files).every(([f, d]) => existsSync(join(dir, f)) && statSync(join(dir, f)).size === d.bytes);
}

export function checkBuildKey(opts: {
  outDir: string; settings: Record<string, unknown>; inputs: string[]; rehash: boolean; cacheDir?: string; log: (line: string) => void;
  spans?: SpanStore;
}): KeyCheck {
  const { outDir, settings, inputs, rehash, log } = opts;
  let pending: PendingHashes | null = null;
  const hashing = (): PendingHashes => (pending ??= startHashing(inputs, opts.spans));
  let memo: BuildKey | null = null;
  const key = (): BuildKey => (memo ??= computeKey(settings, hashing().join()));
  const hashed = (): InputHashing => ({
    bytes: memo ? memo.inputs.reduce((a, i) => a + i.bytes, 0) : 0, seconds: pending?.waited ?? 0, onWorker: pending?.onWorker ?? false,
    cpu: pending?.cpu ?? null, fromEngine: pending?.fromStore ?? 0,
  });
  const finish = (done: KeyCheck['done'], k: () => BuildKey = key): KeyCheck => ({
    key: k, done, hashed, beforeStreaming: (supplied) => hashing().start(supplied),
  });

  const existing = isEngineDir(outDir) ? readManifest(outDir) : null;
  const recorded = existing?.build_key as BuildKey | undefined;
  if (existing && recorded && JSON.stringify(recorded.settings) === JSON.stringify(settings)) {
    if (!rehash && sameStats(recorded.inputs, statInputs(inputs)) && sizesMatch(outDir, existing)) {
      return finish({ manifest: existing, how: 'up to date (inputs unchanged: same size and mtime)' }, () => recorded);
    }
    hashing().start(new Set());
    if (key().key === recorded.key) {
      const integrity = rehash ? checkIntegrity(outDir) : null;
      if (integrity && !integrity.ok) log(`the engine in ${outDir} has the same key but ${integrity.problem}: building it again`);
      else return finish({ manifest: existing, how: rehash ? 'up to date (inputs and engine rehashed)' : 'up to date (inputs rehashed: same content)' });
    }
  }
  if (opts.cacheDir) {
    hashing().start(new Set());
    const k = key();
    const entry = cacheLookup(opts.cacheDir, k.key, log);
    if (entry) {
      const how = cacheReuse(entry, outDir);
      return finish({ manifest: readManifest(outDir)!, how: `reused cache entry ${k.key.slice(0, 16)} from ${opts.cacheDir} (${how})` });
    }
  }
  return finish(null);
}
