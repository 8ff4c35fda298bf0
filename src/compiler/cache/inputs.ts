// What goes into a build's content key (build-key.ts): the input files a build reads and the resolved settings.
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_HASH } from '../ir/ops.generated.js';
import type { Checkpoint } from '../hf/checkpoint.js';
import { INDEX_FILE } from '../hf/checkpoint.js';
import type { DummyConfig } from '../dummy/config.js';
import type { ResolvedTarget } from '../cuda/target.js';
import type { Limits } from '../engine/plan.js';
import { COPIED_FILES, FORMAT_VERSION } from '../engine/format.js';
import { llmcVersion } from '../engine/version.js';
import { compilerCodeHash, type KeyInput } from './build-key.js';

/** Absolute paths of every file the build reads from the checkpoint (or the dummy config), sorted. */
export function inputFiles(ckpt: Checkpoint | null, dummy: DummyConfig | null): string[] {
  const out = new Set<string>();
  const dir = ckpt?.dir ?? dummy?.dir ?? null;
  if (ckpt) {
    out.add(join(ckpt.dir, 'config.json'));
    for (const f of ckpt.files) out.add(join(ckpt.dir, f));
    if (existsSync(join(ckpt.dir, INDEX_FILE))) out.add(join(ckpt.dir, INDEX_FILE));
  } else if (dummy && dummy.label.startsWith('/')) {
    out.add(statSync(dummy.label).isDirectory() ? join(dummy.label, 'config.json') : dummy.label);
  }
  if (dir) for (const f of COPIED_FILES) if (existsSync(join(dir, f))) out.add(join(dir, f));
  return [...out].sort();
}

export function buildSettings(s: {
  dtype: string; limits: Limits; target: ResolvedTarget; dummy: { config: string; seed: number } | null; reference: boolean; passes: string[];
  quantize: Record<string, unknown> | null;   // every quantization flag, the calibration text's hash, the gate's budget
  kvCacheDType?: string;                      // --kv-cache-dtype
  parallel?: { tp: number; pp: number };      // --tp-size, --pp-size
}): Record<string, unknown> {
  const target = s.target.backend === 'cuda'
    ? {
      backend: 'cuda', archs: s.target.archs.map((a) => a.name), nvcc_version: s.target.nvcc.version,
      kernels_sha256: createHash('sha256').update(JSON.stringify([...s.target.sources.units, ...s.target.sources.headers].map((f) => [f.rel, f.text]))).digest('hex'),
    }
    : { backend: 'cpu' };
  return {
    format_version: FORMAT_VERSION, schema_hash: SCHEMA_HASH, llmc_version: llmcVersion(), compiler_sha256: compilerCodeHash(),
    dtype: s.dtype, limits: s.limits, target, dummy: s.dummy, reference: s.reference, passes: s.passes, quantize: s.quantize, kv_cache_dtype: s.kvCacheDType ?? null,
    ...(s.parallel && s.parallel.tp * s.parallel.pp > 1 ? { parallel: s.parallel } : {}),
  };
}

/** The manifest's `created`: SOURCE_DATE_EPOCH when set, else the newest input's mtime (null without inputs). */
export function inputsDate(inputs: Omit<KeyInput, 'sha256'>[], env: NodeJS.ProcessEnv): string | null {
  const epoch = env.SOURCE_DATE_EPOCH;
  const ms = epoch !== undefined && /^\d+$/.test(epoch) ? Number(epoch) * 1000 : inputs.length ? Math.max(...inputs.map((i) => i.mtime_ms)) : null;
  return ms === null ? null : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
