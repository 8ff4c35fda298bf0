// llmc build HF_DIR -o ENGINE: compiles a checkpoint (src/compiler/build.ts) and prints its progress lines and
// the memory plan as the compiler logs them.
import { existsSync, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { BuildDType } from '../compiler/api.js';
import { LlmcError } from '../errors.js';
import { buildEngine } from './compiler.js';
import { intArg, nonEmpty } from './parse.js';

interface BuildFlags {
  output: string;
  dtype?: BuildDType;
  maxBatchSize?: number;
  maxSeqLen?: number;
  maxNumTokens?: number;
  dumpIr?: string;
  force?: boolean;
  target?: 'cpu' | 'cuda';
  cudaArch?: string;
}

export function registerBuild(program: Command): void {
  program
    .command('build')
    .summary('compile a HuggingFace checkpoint into an engine')
    .description('Compile a HuggingFace checkpoint directory (config.json + *.safetensors) into an llmc engine directory.')
    .argument('<hf_dir>', 'HuggingFace checkpoint directory')
    .requiredOption('-o, --output <engine_dir>', 'engine directory to write', nonEmpty('--output'))
    .addOption(new Option('--dtype <dtype>', "weight dtype (default: the checkpoint's torch_dtype, float32 if absent)")
      .choices(['float32', 'float16', 'bfloat16']))
    .option('--max-batch-size <n>', 'sequences in flight at once (default 8)', intArg(1, 4096))
    .option('--max-seq-len <n>', 'prompt + generated tokens per sequence (default min(max_position_embeddings, 4096))', intArg(1, 1 << 24))
    .option('--max-num-tokens <n>', 'tokens in one packed step: prefill chunk + decode tokens (default derived from --max-seq-len)', intArg(1, 1 << 24))
    .addOption(new Option('--target <backend>', 'what the engine runs on: cpu, or cuda (compiles the kernels with nvcc)').choices(['cpu', 'cuda']).default('cpu'))
    .option('--cuda-arch <list>', 'GPU architectures for --target cuda, comma-separated (default sm_80,sm_90a; PTX of the lowest is added)', nonEmpty('--cuda-arch'))
    .option('--dump-ir <dir>', 'write the IR after each pass into this directory')
    .option('--force', 'overwrite a non-empty directory that is not an engine (an existing engine is always replaced)')
    .action(async (hfDir: string, flags: BuildFlags) => {
      if (!existsSync(hfDir)) throw new LlmcError('NOT_FOUND', `checkpoint directory ${hfDir} does not exist`);
      if (!statSync(hfDir).isDirectory()) throw new LlmcError('NOT_FOUND', `${hfDir} is not a directory (pass the checkpoint directory)`);
      const report = await buildEngine({
        modelDir: hfDir,
        outDir: flags.output,
        dtype: flags.dtype,
        maxBatchSize: flags.maxBatchSize,
        maxSeqLen: flags.maxSeqLen,
        maxNumTokens: flags.maxNumTokens,
        dumpIrDir: flags.dumpIr,
        force: flags.force ?? false,
        target: flags.target,
        cudaArch: flags.cudaArch,
        log: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(`next: llmc run ${report.engineDir} --prompt "..."   (or --token-ids 1,2,3)\n`);
    });
}
