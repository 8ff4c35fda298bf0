// A kjv-tiny engine (the bundled example model) with a chat template added to its checkpoint, and an in-process
// `llmc serve` app on 127.0.0.1 (a random free port) for the server tests.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, type EngineLoadOptions } from '../../src/runtime/engine.js';
import { createLlmcServer, type LlmcServer, type ServerOptions } from '../../src/server/app.js';
import { llmc, repoRoot, tempDir } from '../helpers/cli.js';

export const CHAT_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

/** Builds kjv-tiny (with a chat template) into a fresh temp dir; returns the engine dir. */
export function buildKjvEngine(extra: string[] = []): string {
  const root = tempDir('llmc-serve-');
  const ckpt = join(root, 'kjv-chat');
  cpSync(join(repoRoot, 'examples', 'kjv-tiny'), ckpt, { recursive: true });
  const cfgPath = join(ckpt, 'tokenizer_config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.chat_template = CHAT_TEMPLATE;
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const engine = join(root, 'kjv');
  const r = llmc(['build', ckpt, '-o', engine, ...extra]);
  if (r.code !== 0) throw new Error(r.stderr);
  return engine;
}

export interface Running {
  engine: Engine;
  server: LlmcServer;
  url: string;
  close(): Promise<void>;
}

export async function startServer(engineDir: string, opts: Partial<ServerOptions> = {}, load: EngineLoadOptions = {}): Promise<Running> {
  const engine = await Engine.load(engineDir, { numThreads: 2, ...load });
  const server = createLlmcServer(engine, { modelName: 'kjv', maxQueue: 256, ...opts });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = server.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    engine, server, url: `http://127.0.0.1:${port}`,
    async close() {
      await server.drain();
      engine.close();
    },
  };
}

/** Polls until cond() holds (or fails after timeoutMs). */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads a whole SSE response body and returns the `data:` payloads. */
export async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
}
