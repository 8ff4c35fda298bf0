// The compiler entry points the CLI uses, imported on first use: `llmc run` and `llmc bench` never load the
// compiler (faster start), and the compiler never loads the native addon.
import type { BuildOptions, BuildReport } from '../compiler/api.js';
import type { Plan } from '../compiler/engine/format.js';
import type { EngineFatbin } from '../compiler/engine/fatbin-file.js';

export type { Plan } from '../compiler/engine/format.js';
export type { EngineFatbin } from '../compiler/engine/fatbin-file.js';

export async function buildEngine(opts: BuildOptions): Promise<BuildReport> {
  const { buildEngine: build } = await import('../compiler/build.js');
  return build(opts);
}

/** The plan JSON inside rank0.engine (docs/engine-format.md), after the reader's checks. */
export async function readPlan(dir: string): Promise<Plan> {
  const { readPlan: read } = await import('../compiler/engine/reader.js');
  return read(dir).plan;
}

export async function exportOnnx(engineDir: string, file: string): Promise<void> {
  const { exportOnnx: exportTo } = await import('../compiler/engine/onnx.js');
  exportTo(engineDir, file);
}

/** A cuda engine's fatbin, listed (null without one). */
export async function readEngineFatbin(dir: string, target: { fatbin?: unknown; fatbin_sha256?: unknown } | undefined): Promise<EngineFatbin | null> {
  const { readEngineFatbin: read } = await import('../compiler/engine/fatbin-file.js');
  return read(dir, target);
}
