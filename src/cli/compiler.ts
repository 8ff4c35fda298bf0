// The compiler entry points the CLI uses, imported on first use: `llmc run` and `llmc bench` never load the
// compiler, and the compiler never loads the native addon.
import { LlmcError } from '../errors.js';
import type { BuildOptions, BuildReport } from '../compiler/api.js';

export interface PlanValue {
  id: number;
  name: string;
  kind: 'weight' | 'activation' | string;
  dtype?: string;
  shape?: number[];
  nbytes?: number;
  width?: number;
}

export interface PlanNode {
  op: string;
  op_id?: number;
  name: string;
  inputs: number[];
  outputs: number[];
  attrs?: Record<string, unknown>;
}

/** The plan JSON inside rank0.engine (docs/engine-format.md), the fields `llmc inspect` reads. */
export interface PlanJson {
  model?: Record<string, unknown>;
  limits?: Record<string, unknown>;
  kv_cache?: Record<string, unknown>;
  arena?: { floats_per_token?: number };
  values: PlanValue[];
  nodes: PlanNode[];
}

interface CompilerModules {
  buildEngine(opts: BuildOptions): Promise<BuildReport>;
  readManifest(dir: string): unknown;
  readPlan(dir: string): unknown;
  exportOnnx(engineDir: string, file: string): unknown;
}

// Module paths relative to this file (dist/cli/ or src/cli/). Kept as variables while the compiler is written in
// parallel so the CLI compiles before those files exist.
const BUILD = '../compiler/build.js';
const READER = '../compiler/engine/reader.js';
const ONNX = '../compiler/engine/onnx.js';

async function importCompiler<K extends keyof CompilerModules>(path: string, name: K): Promise<CompilerModules[K]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(path)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND') {
      throw new LlmcError('UNSUPPORTED', `this llmc build has no compiler module ${path.replace('../', 'src/').replace(/\.js$/, '.ts')}`,
        'run `npm install` to rebuild');
    }
    throw e;
  }
  const fn = mod[name];
  if (typeof fn !== 'function') throw new LlmcError('UNSUPPORTED', `the compiler does not export ${name} (${path})`);
  return fn as CompilerModules[K];
}

export async function buildEngine(opts: BuildOptions): Promise<BuildReport> {
  return (await importCompiler(BUILD, 'buildEngine'))(opts);
}

export async function readPlan(dir: string): Promise<PlanJson> {
  const r = (await (await importCompiler(READER, 'readPlan'))(dir)) as { plan: PlanJson };  // { header, plan }
  return r.plan;
}

export async function exportOnnx(engineDir: string, file: string): Promise<void> {
  await (await importCompiler(ONNX, 'exportOnnx'))(engineDir, file);
}
