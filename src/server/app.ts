// The OpenAI-compatible HTTP server on one engine (fastify): /v1/completions, /v1/chat/completions (JSON or
// server-sent events), /v1/models, /health, /metrics. Every request becomes one executor request per choice, so
// concurrent HTTP requests share every step (in-flight batching). A client that goes away cancels its requests and
// frees their KV blocks at once. docs/serving.md describes the API, the errors and the metrics.
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { LlmcError } from '../errors.js';
import type { Engine } from '../runtime/engine.js';
import type { GenerationRequest, GenerationResult } from '../runtime/request.js';
import { ApiError, badRequest } from './api-error.js';
import { ServerMetrics } from './metrics.js';
import { chatPrompt, checkModel, completionPrompts, makeJob, type Job } from './requests.js';
import { fullResponse, type Kind } from './responses.js';
import { SseWriter } from './sse.js';
import { collectChoices, StreamResponse, type ChoiceSink } from './stream.js';
import { chatSchema, completionSchema, type ChatBody, type CompletionBody } from './schemas.js';

export interface ServerOptions {
  /** The name clients send as `model` (default: the engine directory's name). */
  modelName: string;
  /** Requests waiting beyond the running batch before new ones get 429. */
  maxQueue: number;
  /** Bearer token required on /v1/* (none = open). */
  apiKey?: string;
  /** Largest request body in bytes (413 beyond). */
  bodyLimit?: number;
  /** A client must send its headers within this many ms (408 otherwise). */
  headersTimeoutMs?: number;
}

export interface LlmcServer {
  app: FastifyInstance;
  metrics: ServerMetrics;
  /** Stops accepting, lets running requests finish, then closes every connection. */
  drain(): Promise<void>;
  /** HTTP generation requests in progress. */
  readonly inFlight: number;
}

/** How long the server keeps an idle kept-alive connection (sent as `Keep-Alive: timeout=72`). */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

export function createLlmcServer(engine: Engine, opts: ServerOptions): LlmcServer {
  const metrics = new ServerMetrics(engine);
  const maxBatch = Number(engine.info().max_batch_size) || 1;
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  let inFlight = 0;
  let draining = false;
  let server: Server | undefined;
  const app = Fastify({
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    // headersTimeout runs from a connection's accept (or a kept-alive connection's next request's first byte) and
    // is checked every connectionsCheckingInterval: keep that short so a slow client is cut in time. The idle time
    // of a kept-alive connection does not count. keepAliveTimeout is long (fastify's default) so that clients,
    // which follow the `Keep-Alive: timeout` hint minus a margin or use a shorter timeout of their own, close idle
    // connections first: a server closing one just as a client reuses it is a reset request on the client side.
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
      server = createServer({ headersTimeout, requestTimeout: 0, connectionsCheckingInterval: Math.min(1000, headersTimeout),
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, handler);
      return server;
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // JSON is UTF-8 (RFC 8259). Bodies are read as bytes and checked first: decoded as a string, invalid bytes
  // would become U+FFFD silently inside a prompt, or a JSON syntax error that points at the wrong thing.
  // curl -d sends application/x-www-form-urlencoded: read as JSON too, so the one-line curl examples work.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', 'application/x-www-form-urlencoded'], { parseAs: 'buffer' }, (req, body, done) => {
    if (!isUtf8(body as Buffer)) {
      done(Object.assign(new Error('the body is not valid UTF-8: send the JSON as UTF-8 text'), { statusCode: 400 }), undefined);
      return;
    }
    json(req, (body as Buffer).toString('utf8'), done);
  });

  // Hooks as callbacks, not async functions (no promise per request), and the key check only where there is a key.
  const apiKey = opts.apiKey;
  if (apiKey) {
    app.addHook('onRequest', (req, _reply, done) => {
      if (req.url.startsWith('/v1/') && req.headers.authorization !== `Bearer ${apiKey}`) {
        done(new ApiError(401, 'Incorrect or missing API key: send the header `Authorization: Bearer KEY` with the key given to `llmc serve --api-key`',
          'invalid_request_error', null, 'invalid_api_key'));
      } else {
        done();
      }
    });
  }
  app.addHook('onResponse', (req, reply, done) => {
    if (!(req as { sseCounted?: boolean }).sseCounted) metrics.requests.inc({ endpoint: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
    done();
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[] }, _req, reply) => {
    let e: ApiError;
    if (err instanceof ApiError) {
      e = err;
    } else if (err.validation) {
      const v = err.validation[0];
      const field = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
      if (v.keyword === 'additionalProperties') {
        const name = (field ? `${field}.` : '') + String(v.params.additionalProperty);
        e = badRequest(`unknown field \`${name}\` (llmc accepts OpenAI's fields; see docs/serving.md)`, name);
      } else if (v.keyword === 'required') {
        e = badRequest(`missing required field \`${String(v.params.missingProperty)}\``, String(v.params.missingProperty));
      } else {
        e = badRequest(`\`${field || 'body'}\` ${v.message ?? 'is invalid'}`, field || null);
      }
    } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      e = new ApiError(413, `the request body is larger than ${opts.bodyLimit ?? 1024 * 1024} bytes`);
    } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      e = new ApiError(415, 'send the body as JSON (Content-Type: application/json)');
    } else if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      e = badRequest(`the body is not valid JSON: ${err.message}`);
    } else if (err instanceof LlmcError && (err.code === 'BAD_ARGUMENT' || err.code === 'LIMIT')) {
      e = badRequest(err.message);
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      e = new ApiError(err.statusCode, err.message);
    } else {
      reply.log.error(err);
      e = new ApiError(500, `internal error: ${err.message}`, 'server_error');
    }
    void reply.code(e.status).headers(e.headers).send(e.body());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(new ApiError(404, `no route ${req.method} ${req.url}; see docs/serving.md`).body());
  });

  app.get('/health', async (_req, reply) => (draining ? reply.code(503).send({ status: 'draining' }) : { status: 'ok' }));
  app.get('/metrics', async (_req, reply) => {
    void reply.header('Content-Type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  const modelCard = () => ({ id: opts.modelName, object: 'model', created: 0, owned_by: 'llmc', max_model_len: engine.maxSeqLen });
  app.get('/v1/models', async () => ({ object: 'list', data: [modelCard()] }));
  app.get<{ Params: { id: string } }>('/v1/models/:id', async (req) => {
    checkModel(req.params.id, opts.modelName);
    return modelCard();
  });

  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionSchema } }, async (req, reply) => {
    checkModel(req.body.model, opts.modelName);
    const prompts = completionPrompts(engine, req.body);
    const lp = req.body.logprobs ?? null;
    const job = makeJob(engine, req.body, prompts, req.body.max_tokens, () => 16, lp);
    return serve('completion', job, req, reply);
  });
  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: chatSchema } }, async (req, reply) => {
    checkModel(req.body.model, opts.modelName);
    const prompt = chatPrompt(engine, req.body);
    const lp = req.body.logprobs ? req.body.top_logprobs ?? 0 : null;
    const job = makeJob(engine, req.body, [prompt], req.body.max_completion_tokens ?? req.body.max_tokens,
      (len) => Math.max(1, engine.maxSeqLen - len), lp);
    return serve('chat', job, req, reply);
  });

  async function serve(kind: Kind, job: Job, req: FastifyRequest, reply: FastifyReply) {
    if (draining) throw new ApiError(503, 'the server is shutting down', 'server_error');
    const choices = job.options.length;
    if (engine.executor.active + choices > maxBatch + opts.maxQueue) {
      throw new ApiError(429, `the server is at capacity (${engine.executor.active} requests in flight, at most ${maxBatch} running + ${opts.maxQueue} queued); retry later`,
        'rate_limit_error', null, 'queue_full', { 'Retry-After': '1' });
    }
    const arrival = performance.now();
    const id = `${kind === 'completion' ? 'cmpl' : 'chatcmpl'}-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    const reqs: GenerationRequest[] = job.options.map((o, i) => engine.submit(job.prompts[Math.floor(i / job.n)], o));
    for (const p of job.prompts) metrics.promptTokens.inc(p.length * job.n);
    inFlight++;
    // The client went away before the response was complete: stop its requests and free their KV blocks now.
    // The HTTP request counts as in flight until its generation requests are done and its response is closed.
    const responseClosed = new Promise<void>((res) => reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) for (const r of reqs) r.cancel();
      res();
    }));
    void Promise.all([Promise.allSettled(reqs.map((r) => r.result)), responseClosed]).then(() => {
      inFlight--;
      maybeFinishDrain();
    });
    let sink: ChoiceSink;
    let collected: Promise<GenerationResult[]> | null = null;
    if (job.stream) {
      // The reply is written here (SSE), not by fastify: counted as a 200 now, since onResponse sees it too.
      reply.hijack();
      (req as { sseCounted?: boolean }).sseCounted = true;
      metrics.requests.inc({ endpoint: req.routeOptions.url ?? 'unknown', status: '200' });
      sink = new StreamResponse(engine, kind, job, id, created, opts.modelName, new SseWriter(reply.raw));
    } else {
      ({ sink, all: collected } = collectChoices(choices));
    }
    reqs.forEach((r, choice) => void follow(r, choice, sink, arrival));
    if (!collected) return;
    try {
      return fullResponse(kind, engine, id, opts.modelName, created, job.prompts, await collected, job.logprobs !== null);
    } catch (e) {
      for (const r of reqs) r.cancel();
      throw e;
    }
  }

  // One choice's events into the sink, with the TTFT / ITL / TPOT / e2e metrics on the way.
  async function follow(r: GenerationRequest, choice: number, sink: ChoiceSink, arrival: number): Promise<void> {
    let first = 0;
    let last = 0;
    let tokens = 0;
    try {
      for await (const chunk of r) {
        if (chunk.token !== null) {
          const now = performance.now();
          if (tokens === 0) {
            first = now;
            metrics.ttft.observe((now - arrival) / 1000);
          } else {
            metrics.itl.observe((now - last) / 1000);
          }
          last = now;
          tokens++;
          metrics.generationTokens.inc();
        }
        sink.chunk(choice, chunk);
      }
      const result = await r.result;
      if (tokens > 0) metrics.e2e.observe((last - arrival) / 1000);
      if (tokens > 1) metrics.tpot.observe((last - first) / (tokens - 1) / 1000);
      sink.result(choice, result);
    } catch (error) {
      sink.error(choice, error);
    }
  }

  let drainDone: (() => void) | null = null;
  function maybeFinishDrain() {
    if (draining && inFlight === 0 && drainDone) drainDone();
  }

  async function drain(): Promise<void> {
    draining = true;
    const closing = app.close();  // stops accepting; in-flight requests finish
    if (inFlight > 0) await new Promise<void>((r) => { drainDone = r; });
    server?.closeAllConnections();
    await closing;
  }

  return { app, metrics, drain, get inFlight() { return inFlight; } };
}
