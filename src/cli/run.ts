// llmc run ENGINE (--prompt TEXT | --token-ids IDS): one generation request, printed as text (streamed with
// --stream) with a stats line on stderr, or as exactly one JSON object on stdout with --json.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { LlmcError } from '../errors.js';
import { Engine } from '../runtime/engine.js';
import { checkPromptIds, type GenerationResult } from '../runtime/generation.js';
import { readEngineManifest } from '../runtime/manifest.js';
import { cancelOnSigint } from '../runtime/sigint.js';
import { followRank0 } from './follow.js';
import { shardedRole } from '../runtime/ranks.js';
import { formatMs, formatRate } from './format.js';
import { BACKENDS, type BackendName, collect, samplingArgs, threadsArg, tokenIdsArg } from './parse.js';
import { EXIT_INTERRUPTED, EXIT_USAGE } from './report-error.js';

interface RunFlags {
  prompt?: string;
  tokenIds?: number[];
  maxNewTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  stop?: string[];
  stream?: boolean;
  chat?: boolean;
  ignoreEos?: boolean;
  json?: boolean;
  logitsOut?: string;
  dumpDir?: string;
  threads?: number;
  backend?: BackendName;
}

export const DUMMY_WARNING = 'warning: this engine has dummy weights (llmc build --dummy-weights): the outputs are meaningless; ' +
  'use it to measure speed and memory';

/** The --json object: exactly these keys (text only when the engine has a tokenizer). */
export function jsonReport(r: GenerationResult, hasTokenizer: boolean): Record<string, unknown> {
  return {
    output_ids: r.outputIds,
    logits_shape: r.logitsShape,
    ...(hasTokenizer ? { text: r.text } : {}),
    stop_reason: r.stopReason,
    prompt_tokens: r.promptTokens,
    ttft_ms: r.prefillMs,
    tpot_ms: r.tpotMs,
  };
}

function statsLine(r: GenerationResult, requestedMaxNew: number): string {
  const decodeRate = r.tpotMs ? 1000 / r.tpotMs : null;
  let line = `[llmc] prompt ${r.promptTokens} tokens, generated ${r.outputIds.length} (stop: ${r.stopReason}); ` +
    `TTFT ${formatMs(r.prefillMs)}, TPOT ${formatMs(r.tpotMs)} (${formatRate(decodeRate, 'tok/s')})`;
  if (r.maxNewTokens < requestedMaxNew) line += `; --max-new-tokens capped at ${r.maxNewTokens} by max_seq_len`;
  return line;
}

function checkLogitsOut(path: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new LlmcError('NOT_FOUND', `--logits-out: directory ${dir} does not exist`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw new LlmcError('BAD_ARGUMENT', `--logits-out: ${path} is a directory`);
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .summary('generate from an engine')
    .description('Generate tokens from an engine. Sampling is greedy (--temperature 0) unless --temperature is given; ' +
      'the default --seed 0 makes sampled runs reproducible.')
    .argument('<engine_dir>', 'engine directory (from llmc build)')
    .option('--prompt <text>', 'prompt text (needs the tokenizer copied from the checkpoint)')
    .option('--token-ids <ids>', 'prompt as comma-separated token ids, e.g. 5,17,42', tokenIdsArg)
    .option('--max-new-tokens <n>', 'most tokens to generate (capped by max_seq_len)', samplingArgs.maxNewTokens, 64)
    .option('--temperature <t>', 'sampling temperature; 0 = greedy (default 0)', samplingArgs.temperature)
    .option('--top-k <k>', 'sample from the k most likely tokens; 0 = off (default 0)', samplingArgs.topK)
    .option('--top-p <p>', 'nucleus sampling in (0, 1]; 1 = off (default 1)', samplingArgs.topP)
    .option('--repetition-penalty <p>', 'HF repetition penalty > 0; 1 = off (default 1)', samplingArgs.repetitionPenalty)
    .option('--seed <n>', 'sampling seed, an integer in [0, 2^53) (default 0)', samplingArgs.seed)
    .option('--stop <str>', 'stop when the text contains STR (repeatable); the output ends before it', collect)
    .option('--stream', 'print text as it is generated')
    .option('--chat', "wrap --prompt in the model's chat template as one user turn")
    .option('--ignore-eos', 'keep generating past EOS tokens')
    .option('--json', 'print one JSON object: output_ids, logits_shape, text, stop_reason, prompt_tokens, ttft_ms, tpot_ms')
    .option('--logits-out <file>', 'write float32 logits [prompt + generated - 1, vocab] to FILE')
    .option('--dump-dir <dir>', 'write every activation of every step to DIR (per-layer names, index.tsv; a sharded engine: DIR/rank<r>/ per rank); compare two dumps with scripts/compare-dumps.mjs')
    .option('--threads <n>', 'CPU threads (default: all cores)', threadsArg)
    .addOption(new Option('--backend <backend>', "what runs the engine: cpu or cuda (default: the engine's target)").choices(BACKENDS))
    .action(async (engineDir: string, flags: RunFlags, cmd: Command) => {
      const usage = (msg: string) => cmd.error(msg, { exitCode: EXIT_USAGE, code: 'llmc.usage' });
      if ((flags.prompt === undefined) === (flags.tokenIds === undefined)) usage('pass exactly one of --prompt TEXT or --token-ids IDS');
      if (flags.chat && flags.prompt === undefined) usage('--chat needs --prompt (it renders text through the chat template)');
      if (flags.stream && flags.json) usage('--stream and --json cannot be used together (--json prints one object at the end)');

      // Cheap checks before the native load, which can take seconds for a large engine.
      const manifest = readEngineManifest(engineDir);
      if (flags.tokenIds) {
        const vocab = typeof manifest.model.vocab_size === 'number' ? manifest.model.vocab_size : Number.MAX_SAFE_INTEGER;
        checkPromptIds(flags.tokenIds, vocab, manifest.build.max_seq_len, '--token-ids prompt');
      }
      if (flags.prompt !== undefined && !existsSync(join(engineDir, 'tokenizer.json'))) {
        throw new LlmcError('BAD_ARGUMENT', 'this engine has no tokenizer (tokenizer.json was not in the checkpoint); pass --token-ids');
      }
      if (flags.logitsOut) checkLogitsOut(flags.logitsOut);

      // A sharded engine: one process per rank (mpirun, started here when needed); ranks > 0 follow rank 0.
      const role = await shardedRole(engineDir, manifest, process.argv, flags.threads);
      // The native runtime reads LLMC_DUMP_DIR when the engine loads (native/runtime/activation_dump.h); each rank
      // of a sharded engine dumps its own values to DIR/rank<r>/.
      if (flags.dumpDir) {
        process.env.LLMC_DUMP_DIR = role.kind === 'single' ? resolve(flags.dumpDir) : join(resolve(flags.dumpDir), `rank${role.world.rank}`);
        if (role.kind !== 'single') mkdirSync(process.env.LLMC_DUMP_DIR, { recursive: true });
      }
      const threads = role.kind === 'single' ? flags.threads : role.threads;
      if (role.kind === 'follower') return followRank0(engineDir, threads, flags.backend);
      const engine = await Engine.load(engineDir, { numThreads: threads, backend: flags.backend });
      if (manifest.dummy_weights) process.stderr.write(`${DUMMY_WARNING}\n`);   // once it loaded: errors stay one line
      try {
        const promptIds = flags.tokenIds ?? engine.encodePrompt(flags.prompt ?? '', flags.chat ?? false);
        const hasTokenizer = engine.tokenizer !== null;
        const result = await cancelOnSigint(engine, () => engine.generate(promptIds, {
          maxNewTokens: flags.maxNewTokens,
          sampling: {
            temperature: flags.temperature,
            topK: flags.topK,
            topP: flags.topP,
            repetitionPenalty: flags.repetitionPenalty,
            seed: flags.seed,
          },
          ignoreEos: flags.ignoreEos ?? false,
          stop: flags.stop,
          logitsPath: flags.logitsOut ? resolve(flags.logitsOut) : undefined,
          // Streams text, or the ids themselves when the engine has no tokenizer.
          onText: flags.stream && hasTokenizer ? (text) => process.stdout.write(text) : undefined,
          onToken: flags.stream && !hasTokenizer ? (id, i) => process.stdout.write(i > 0 ? `,${id}` : `${id}`) : undefined,
        }));

        if (flags.json) {
          process.stdout.write(`${JSON.stringify(jsonReport(result, hasTokenizer))}\n`);
        } else {
          if (flags.stream) process.stdout.write('\n');
          else process.stdout.write(`${hasTokenizer ? result.text : result.outputIds.join(',')}\n`);
          process.stderr.write(`${statsLine(result, flags.maxNewTokens)}\n`);
        }
        if (result.stopReason === 'cancelled') process.exitCode = EXIT_INTERRUPTED;
      } finally {
        engine.close();
      }
    });
}
