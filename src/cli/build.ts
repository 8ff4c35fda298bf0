// llmc build HF_DIR -o ENGINE [--target cuda] (or --dummy-weights --config PRESET): compiles a checkpoint
// (src/compiler/build.ts) and prints its progress lines and
// the memory plan as the compiler logs them.
import { existsSync, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { BuildDType } from '../compiler/api.js';
import { LlmcError } from '../errors.js';
import { buildEngine } from './compiler.js';
import { presetNames } from '../compiler/dummy/presets.js';   // plain data: cheap to load for the help text
import { collect, intArg, nonEmpty } from './parse.js';

interface BuildFlags {
  output: string;
  dtype?: BuildDType;
  kvCacheDtype?: string;
  maxBatchSize?: number;
  maxSeqLen?: number;
  maxNumTokens?: number;
  dumpIr?: string;
  force?: boolean;
  target?: 'cpu' | 'cuda';
  cudaArch?: string;
  dummyWeights?: boolean;
  config?: string;
  dummySeed?: number;
  quantize?: 'int8' | 'int4' | 'fp8';
  groupSize?: number;
  symmetric?: boolean;
  keepFloat?: string[];
  quantizeLmHead?: boolean;
  calib?: string;
  accuracyBudget?: string;
  accuracyGate?: boolean;
  awq?: boolean;
  fuseRope?: boolean;
  int8Activations?: boolean;
  verify?: boolean;
  rehash?: boolean;
  cacheDir?: string;
  tpSize?: number;
  ppSize?: number;
}

export function registerBuild(program: Command): void {
  program
    .command('build')
    .summary('compile a HuggingFace checkpoint into an engine')
    .description('Compile a HuggingFace checkpoint directory (config.json + *.safetensors) into an llmc engine directory.')
    .argument('[hf_dir]', 'HuggingFace checkpoint directory (with --dummy-weights: only its config.json is read)')
    .requiredOption('-o, --output <engine_dir>', 'engine directory to write', nonEmpty('--output'))
    .addOption(new Option('--dtype <dtype>', "weight dtype (default: the checkpoint's torch_dtype, float32 if absent)")
      .choices(['float32', 'float16', 'bfloat16']))
    .option('--kv-cache-dtype <dtype>', 'KV cache storage: float32 (default), float16, bfloat16, int8 or fp8 (e4m3); int8/fp8 keep one scale per token and kv head (docs/kv-cache.md)', nonEmpty('--kv-cache-dtype'))
    .option('--max-batch-size <n>', 'sequences in flight at once (default 8)', intArg(1, 4096))
    .option('--max-seq-len <n>', 'prompt + generated tokens per sequence (default min(max_position_embeddings, 4096))', intArg(1, 1 << 24))
    .option('--max-num-tokens <n>', 'tokens in one packed step: prefill chunk + decode tokens (default derived from --max-seq-len)', intArg(1, 1 << 24))
    .addOption(new Option('--target <backend>', 'what the engine runs on: cpu, or cuda (compiles the kernels with nvcc)').choices(['cpu', 'cuda']).default('cpu'))
    .option('--cuda-arch <list>', 'GPU architectures for --target cuda, comma-separated (default sm_80,sm_90a; PTX of the lowest is added)', nonEmpty('--cuda-arch'))
    .option('--dummy-weights', 'store no weights: the runtime generates seeded random ones at load (speed and memory work; outputs are meaningless)')
    .option('--config <preset|file|dir>', `model config for --dummy-weights: a preset (${presetNames().join(', ')}), a config.json or a checkpoint directory`, nonEmpty('--config'))
    .option('--dummy-seed <n>', 'seed of the generated weights (default 0)', intArg(0, 2 ** 32 - 1))
    .addOption(new Option('--quantize <scheme>', 'weight-only quantization of the decoder linears: int8 (per channel), int4 (group-wise), fp8 (E4M3, per channel)').choices(['int8', 'int4', 'fp8']))
    .option('--group-size <n>', 'int4 columns per scale: 32, 64 or 128 (default 128; a linear it does not divide takes the largest that does)', intArg(1, 1 << 20))
    .option('--symmetric', 'int4 without zero points')
    .option('--keep-float <regex>', 'keep matching linears in float (llmc names like l0.down or checkpoint names); repeatable', collect)
    .option('--quantize-lm-head', 'also quantize the LM head')
    .option('--calib <file>', 'calibration text for the accuracy gate (default: a text that ships with llmc)', nonEmpty('--calib'))
    .option('--accuracy-budget <list>', 'fail the build past these: ppl=+N%,top1=N% (defaults: int8/fp8 ppl=+1%,top1=99%; int4 ppl=+5%,top1=95%)', nonEmpty('--accuracy-budget'))
    .option('--no-accuracy-gate', 'skip measuring the quantized engine against the float one')
    .option('--int8-activations', 'int8/int4 linears with int8 activations (per row and group scales; integer dot products with AVX512-VNNI or AVX2 on the CPU, dp4a on CUDA; decode and prefill on both backends), measured by the accuracy gate')
    .option('--no-awq', 'with --quantize int4 --calib: keep round-to-nearest (the file is only the accuracy gate\'s text)')
    .option('--tp-size <n>', 'tensor-parallel ranks: heads, MLP and vocabulary split across them (default 1; docs/parallel.md)', intArg(1, 1024))
    .option('--pp-size <n>', 'pipeline-parallel stages: contiguous layers per stage (default 1); the engine has tp x pp rank files', intArg(1, 1024))
    .option('--no-fuse-rope', 'keep rope as separate ops instead of rotating q and k in the qkv projection\'s epilogue (pass fuse_linear_rope; for measuring it)')
    .option('--dump-ir <dir>', 'write the IR after each pass into this directory (a sharded engine: one rank<r>/ folder per rank)')
    .option('--rehash', 'decide "up to date" by hashing every input (and the engine), not by size and mtime')
    .option('--cache-dir <dir>', 'keep built engines by content key in this directory and reuse them (llmc cache ls|prune)', nonEmpty('--cache-dir'))
    .option('--verify', 'run `llmc verify` on the engine at the end (every rank of a sharded one): exit 3, naming the first bad layer, past the tolerance')
    .option('--force', 'overwrite a non-empty directory that is not an engine (an existing engine is always replaced)')
    .action(async (hfDir: string | undefined, flags: BuildFlags) => {
      if (hfDir === undefined && !flags.dummyWeights) {
        throw new LlmcError('BAD_ARGUMENT', 'missing the checkpoint directory', 'usage: llmc build HF_DIR -o ENGINE (or llmc build --dummy-weights --config PRESET -o ENGINE)');
      }
      if (hfDir !== undefined && !existsSync(hfDir)) throw new LlmcError('NOT_FOUND', `checkpoint directory ${hfDir} does not exist`);
      if (hfDir !== undefined && !statSync(hfDir).isDirectory()) throw new LlmcError('NOT_FOUND', `${hfDir} is not a directory (pass the checkpoint directory)`);
      const report = await buildEngine({
        modelDir: hfDir,
        outDir: flags.output,
        dtype: flags.dtype,
        kvCacheDType: flags.kvCacheDtype,
        maxBatchSize: flags.maxBatchSize,
        maxSeqLen: flags.maxSeqLen,
        maxNumTokens: flags.maxNumTokens,
        dumpIrDir: flags.dumpIr,
        force: flags.force ?? false,
        target: flags.target,
        cudaArch: flags.cudaArch,
        dummyWeights: flags.dummyWeights,
        config: flags.config,
        dummySeed: flags.dummySeed,
        quantize: flags.quantize,
        groupSize: flags.groupSize,
        symmetric: flags.symmetric,
        keepFloat: flags.keepFloat,
        quantizeLmHead: flags.quantizeLmHead,
        calib: flags.calib,
        accuracyBudget: flags.accuracyBudget,
        accuracyGate: flags.accuracyGate,
        awq: flags.awq,
        int8Activations: flags.int8Activations,
        rehash: flags.rehash,
        tpSize: flags.tpSize,
        ppSize: flags.ppSize,
        fuseRope: flags.fuseRope,
        cacheDir: flags.cacheDir,
        log: (line) => process.stdout.write(`${line}\n`),
      });
      if (flags.verify) {
        const { verifyEngine } = await import('../verify/verify.js');
        const { formatReport, EXIT_PAST_TOLERANCE } = await import('./verify.js');
        const v = await verifyEngine({ engineDir: report.engineDir, log: (line) => process.stdout.write(`${line}\n`) });
        process.stdout.write(`${formatReport(v)}\n`);
        if (!v.ok) {
          process.stdout.write(`the engine is kept in ${report.engineDir} for debugging (llmc verify ${report.engineDir} --work-dir DIR keeps the dumps)\n`);
          process.exitCode = EXIT_PAST_TOLERANCE;
          return;
        }
      }
      const ranks = (flags.tpSize ?? 1) * (flags.ppSize ?? 1);
      process.stdout.write(`next: llmc run ${report.engineDir} --prompt "..."   (or --token-ids 1,2,3)${ranks > 1 ? `; it starts mpirun -np ${ranks} itself` : ''}\n`);
    });
}
