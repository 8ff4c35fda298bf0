// The compiler's public surface, used by the CLI (src/cli/) and tests. Implementations live in build.ts,
// engine/reader.ts and engine/onnx.ts.
export type BuildDType = 'float32' | 'float16' | 'bfloat16';

export interface BuildOptions {
  modelDir?: string;         // HF checkpoint directory (with dummyWeights: only its config.json is read)
  outDir: string;            // engine directory to write
  dtype?: BuildDType;        // weight dtype; default: the checkpoint's torch_dtype (float32 if absent)
  kvCacheDType?: string;     // --kv-cache-dtype: float32 (default) | float16 | bfloat16 | int8 | fp8 (docs/kv-cache.md)
  maxBatchSize?: number;     // default 8
  maxSeqLen?: number;        // default min(max_position_embeddings, 4096)
  maxNumTokens?: number;     // tokens in one packed step; default maxSeqLen (one whole prompt fits one step); >= maxBatchSize
  dumpIrDir?: string;        // write the IR text after each pass here
  force?: boolean;           // overwrite a non-empty outDir (otherwise an EXISTS error)
  target?: 'cpu' | 'cuda';   // default cpu; cuda compiles the kernels into ENGINE/kernels/llmc.fatbin (needs nvcc)
  cudaArch?: string;         // --cuda-arch: comma-separated sm_XY[a|f]; default sm_80,sm_90a (+ PTX of the lowest)
  env?: NodeJS.ProcessEnv;   // where nvcc, the kernels and the fatbin cache are looked up (default process.env)
  dummyWeights?: boolean;    // no weights stored: generated at load from a seed (speed/memory work without a checkpoint)
  config?: string;           // with dummyWeights: a preset (src/compiler/dummy/presets.ts), config.json or checkpoint dir
  dummySeed?: number;        // with dummyWeights: integer in [0, 2^32), default 0
  reference?: boolean;       // llmc verify's reference: float32, no math-changing pass (no fusion), CPU target
  rehash?: boolean;          // up-to-date check: hash every input (and the engine) instead of trusting size + mtime
  cacheDir?: string;         // keep built engines by content key here and reuse them (src/compiler/cache/)
  tpSize?: number;           // tensor-parallel ranks (default 1; docs/parallel.md)
  ppSize?: number;           // pipeline-parallel stages (default 1); the engine has tpSize * ppSize rank files
  fuseRope?: boolean;        // default true: pass fuse_linear_rope (rope in the q/k projection's epilogue); false keeps rope ops
  log?: (line: string) => void;  // progress and the memory plan, one line at a time
  // ---- quantization (docs/quantization.md)
  quantize?: 'int8' | 'int4' | 'fp8';  // round-to-nearest weight-only quantization of the decoder linears
  groupSize?: number;        // int4: 32 | 64 | 128 (default 128)
  symmetric?: boolean;       // int4: symmetric codes (default asymmetric, with a zero point)
  keepFloat?: string[];      // regular expressions: linears (llmc or checkpoint names) kept in float
  quantizeLmHead?: boolean;  // also quantize the LM head
  calib?: string;            // calibration text for the accuracy gate (default: the text that ships with llmc)
  accuracyBudget?: string;   // e.g. "ppl=+1%,top1=99%" (default per scheme)
  accuracyGate?: boolean;    // default true for quantized engines; false skips the measurement
  awq?: boolean;             // default true: int4 with calib searches AWQ scales; false keeps round-to-nearest
  int8Activations?: boolean; // prefill of int8/int4 linears with int8 activations (VNNI where the CPU has it)
}

export interface BuildReport {
  engineDir: string;
  manifest: Record<string, unknown>;  // the config.json written
  seconds: number;
  upToDate?: string;                  // set when nothing was built: why (up to date, reused from the cache)
}
