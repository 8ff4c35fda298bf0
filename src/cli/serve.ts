// llmc serve ENGINE: the OpenAI-compatible server (src/server/app.ts) on 127.0.0.1:8000 by default. SIGTERM or
// Ctrl-C drains: no new requests, running ones finish, exit 0 (a second Ctrl-C exits at once).
import { basename, resolve } from 'node:path';
import { Command } from 'commander';
import { LlmcError } from '../errors.js';
import { Engine } from '../runtime/engine.js';
import { readEngineManifest } from '../runtime/manifest.js';
import { shardedRole, worldSizeOf } from '../runtime/ranks.js';
import { followRank0 } from './follow.js';
import { createLlmcServer } from '../server/app.js';
import { intArg, nonEmpty } from './parse.js';
import { addEngineFlags, byteSizeArg, engineLoadOptions, kvCacheLine, type EngineFlags } from './serve-options.js';

interface ServeFlags extends EngineFlags {
  port: number;
  host: string;
  maxQueue: number;
  apiKey?: string;
  modelName?: string;
  bodyLimit: number;
  headersTimeout: number;
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .summary('serve an engine over an OpenAI-compatible HTTP API')
    .description('Serve ENGINE at /v1/completions and /v1/chat/completions (streaming with server-sent events), ' +
      '/v1/models, /health and /metrics (Prometheus). Concurrent requests share every step (in-flight batching). ' +
      'See docs/serving.md.')
    .argument('<engine_dir>', 'engine directory')
    .option('--port <n>', 'TCP port', intArg(0, 65535), 8000)
    .option('--host <addr>', 'address to listen on (0.0.0.0 for every interface)', nonEmpty('--host'), '127.0.0.1')
    .option('--max-queue <n>', 'requests that may wait beyond the running batch; more get 429', intArg(0, 1 << 20), 256)
    .option('--api-key <key>', 'require `Authorization: Bearer KEY` on /v1/* (default: $LLMC_API_KEY, else open)', nonEmpty('--api-key'))
    .option('--model-name <name>', 'the model id clients send (default: the engine directory name)', nonEmpty('--model-name'))
    .option('--body-limit <size>', 'largest request body', byteSizeArg, 1024 * 1024)
    .option('--headers-timeout <ms>', 'a client must send its request headers within this time (408 after)', intArg(100, 3_600_000), 10_000);
  addEngineFlags(cmd).action(async (dir: string, flags: ServeFlags) => {
    // A sharded engine: rank 0 serves, the other ranks follow its steps (mpirun started here when needed).
    const manifest = readEngineManifest(dir);
    let threads = flags.threads;
    if (worldSizeOf(manifest) > 1) {
      const role = await shardedRole(dir, manifest, process.argv, flags.threads);
      if (role.kind === 'follower') return followRank0(dir, role.threads, flags.backend);
      if (role.kind === 'rank0') threads = role.threads;
    }
    const engine = await Engine.load(dir, { ...engineLoadOptions(dir, flags), numThreads: threads });
    const info = engine.info();
    const modelName = flags.modelName ?? basename(resolve(dir));
    const apiKey = flags.apiKey ?? (process.env.LLMC_API_KEY || undefined);
    const srv = createLlmcServer(engine, { modelName, maxQueue: flags.maxQueue, apiKey, bodyLimit: flags.bodyLimit,
      headersTimeoutMs: flags.headersTimeout });
    try {
      await srv.app.listen({ port: flags.port, host: flags.host });
    } catch (e) {
      engine.close();
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new LlmcError('BAD_ARGUMENT', `port ${flags.port} on ${flags.host} is in use`, 'pick another with --port');
      if (err.code === 'EADDRNOTAVAIL') throw new LlmcError('BAD_ARGUMENT', `cannot listen on ${flags.host}: no such local address`, 'use --host 127.0.0.1 or 0.0.0.0');
      throw e;
    }
    const addr = srv.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : flags.port;
    process.stderr.write(`llmc serve: ${modelName} on http://${flags.host}:${port}/v1 (${flags.batching ?? 'inflight'} batching, ` +
      `max batch ${flags.maxBatchSize ?? info.max_batch_size}, ${kvCacheLine(info)}${apiKey ? ', API key required' : ''})\n`);
    await new Promise<void>((done) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          if (signal === 'SIGINT') process.exit(130);
          return;
        }
        stopping = true;
        process.stderr.write(`llmc serve: ${signal}: draining (${srv.inFlight} requests in flight), no new requests\n`);
        void srv.drain().then(() => {
          engine.close();
          process.stderr.write('llmc serve: stopped\n');
          done();
        });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
  });
}
