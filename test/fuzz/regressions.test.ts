// Every exception and hang the fuzzers found (npm run fuzz, docs/hardening.md), as the smallest input that showed
// it. Each must now be the project's one-line error (LlmcError), quickly.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlmcError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/compiler/hf/checkpoint.js';
import { readSafetensorsHeader } from '../../src/compiler/hf/safetensors.js';
import { readPlan } from '../../src/compiler/engine/reader.js';
import { readEngineManifest } from '../../src/runtime/manifest.js';
import { renderChatTemplate } from '../../src/runtime/chat-template.js';
import { TextTokenizer } from '../../src/runtime/tokenizer.js';
import { summarizePlan } from '../../src/cli/inspect.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../cli/byte-tokenizer.js';
import { goldenDir, llmc, tempDir } from '../helpers/cli.js';

const work = tempDir('llmc-fuzz-regress-');
const deep = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`;

function expectLlmcError(f: () => unknown, pattern: RegExp): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof LlmcError)) throw new Error(`expected an LlmcError, got ${thrown instanceof Error ? thrown.stack : String(thrown)}`);
  expect(thrown.message).toMatch(pattern);
  expect(thrown.message).not.toMatch(/\n/);
}

function safetensors(header: string): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
  return Buffer.concat([len, Buffer.from(header)]);
}

test('safetensors: a tensor shape nested 100,000 deep (was: stack overflow while quoting it)', () => {
  const file = join(work, 'deep.safetensors');
  writeFileSync(file, safetensors(`{"w":{"dtype":"F32","shape":${deep(100000)},"data_offsets":[0,0]}}`));
  expectLlmcError(() => readSafetensorsHeader(file), /deep\.safetensors: the header is not valid JSON \(nesting deeper than 100 levels\)/);
});

test('sharded index naming "." or "" as a shard (was: EISDIR from a raw read)', () => {
  for (const name of ['.', '']) {
    const dir = join(work, `index-${name === '' ? 'empty' : 'dot'}`);
    cpSync(join(goldenDir, 'llama_sharded', 'model'), dir, { recursive: true });
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    index.weight_map[Object.keys(index.weight_map)[0]] = name;
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    expectLlmcError(() => openCheckpoint(dir), /names a file outside the checkpoint/);
  }
});

test('a safetensors path that is a directory is refused by name', () => {
  const dir = join(work, 'dir.safetensors');
  mkdirSync(dir, { recursive: true });
  expectLlmcError(() => readSafetensorsHeader(dir), /dir\.safetensors is not a regular file/);
});

test('config.json and generation_config.json with deeply nested values (was: stack overflow in the field readers)', () => {
  const dir = join(work, 'deep-config');
  cpSync(join(goldenDir, 'llama', 'model'), dir, { recursive: true });
  const cfg = readFileSync(join(dir, 'config.json'), 'utf8');
  writeFileSync(join(dir, 'config.json'), cfg.replace('"hidden_size": 64', `"hidden_size": ${deep(5000)}`));
  const r = llmc(['build', dir, '-o', join(work, 'deep-config-engine')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^error: config\.json in .* is not valid JSON \(nesting deeper than 100 levels\)\n$/);
  writeFileSync(join(dir, 'config.json'), cfg);
  writeFileSync(join(dir, 'generation_config.json'), `{"eos_token_id": ${deep(5000)}}`);
  const g = llmc(['build', dir, '-o', join(work, 'deep-gen-engine')]);
  expect(g.stderr).toMatch(/^error: generation_config\.json in .* is not valid JSON \(nesting deeper than 100 levels\)\n$/);
});

test('config.json claiming 2^32 layers, float and pre-quantized (was: a build looping until out of memory)', () => {
  for (const [name, src] of [['layers-float', join(goldenDir, 'llama', 'model')], ['layers-quant', join(goldenDir, '..', 'golden-quant', 'ct_w4a16_g32', 'model')]]) {
    const dir = join(work, name);
    cpSync(src, dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    cfg.num_hidden_layers = 2 ** 32;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    const started = Date.now();
    const r = llmc(['build', dir, '-o', join(work, `${name}-engine`)], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('error: config.json: 4294967296 layers is more than llmc builds (4096); fix num_hidden_layers (or n_layer) in config.json\n');
    expect(Date.now() - started).toBeLessThan(30_000);
    cfg.num_hidden_layers = 3000;   // under the cap, but more than the checkpoint has tensors for
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    expect(llmc(['build', dir, '-o', join(work, `${name}-engine`)]).stderr).toMatch(/^error: config\.json says 3000 layers but the checkpoint holds only \d+ tensors/);
  }
});

test('config.json claiming head_dim 2^31, float and pre-quantized (quant-checkpoint seed 1000 input 50885; was: V8 aborting the process on a 2^30-entry rope table)', () => {
  for (const [name, src] of [['hd-float', join(goldenDir, 'llama', 'model')], ['hd-quant', join(goldenDir, '..', 'golden-quant', 'awq_int4_g32_gemm', 'model')]]) {
    const dir = join(work, name);
    cpSync(src, dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    cfg.head_dim = 2 ** 31;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    const r = llmc(['build', dir, '-o', join(work, `${name}-engine`)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: config.json: head_dim is 2147483648, more than llmc builds (4194304); fix config.json to match the checkpoint\'s weights\n');
    cfg.head_dim = 2 ** 20;   // under the cap: the weights' shapes disagree, and the error says so
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    expect(llmc(['build', dir, '-o', join(work, `${name}-engine`)]).stderr).toMatch(/config\.json implies \[4194304,/);
  }
});

test('compressed-tensors config group that is null (quant-checkpoint seed 1000 input 22115; was: a TypeError reading its targets)', () => {
  const dir = join(work, 'ct-null-group');
  cpSync(join(goldenDir, '..', 'golden-quant', 'ct_w4a16_g32', 'model'), dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  cfg.quantization_config.config_groups = { group_0: null };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const r = llmc(['build', dir, '-o', join(work, 'ct-null-group-engine')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('error: config.json quantization_config.config_groups.group_0 = null is not supported; a config group is an object with targets and weights\n');
});

test('an activation named __proto__ or constructor (hf-config seed 1000 inputs 21555, 23564; was: an internal error from the graph builder)', () => {
  for (const [family, key] of [['opt', 'activation_function'], ['gemma', 'hidden_activation'], ['llama', 'hidden_act']]) {
    for (const name of ['__proto__', 'constructor']) {
      const dir = join(work, `act-${family}-${name}`);
      cpSync(join(goldenDir, family, 'model'), dir, { recursive: true });
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      cfg[key] = name;
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      const r = llmc(['build', dir, '-o', join(work, `act-${family}-${name}-engine`)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: unsupported ${key}=${name} for \\w+; llmc supports ${key} [a-z_, ]+\n$`));
    }
  }
});

describe('engine plan and manifest', () => {
  let engine: string;
  beforeAll(() => {
    engine = join(work, 'engine');
    expect(llmc(['build', join(goldenDir, 'llama', 'model'), '-o', engine]).code).toBe(0);
  });

  /** A copy of the engine whose plan JSON is replaced by `edit(plan)` (re-framed with consistent lengths). */
  function withPlan(name: string, edit: (plan: Record<string, any>) => unknown): string {
    const dir = join(work, name);
    cpSync(engine, dir, { recursive: true });
    const file = readFileSync(join(dir, 'rank0.engine'));
    const p = Number(file.readBigUInt64LE(16));
    const d = Number(file.readBigUInt64LE(24));
    const plan = JSON.parse(file.subarray(40, 40 + p).toString('utf8'));
    const text = Buffer.from(JSON.stringify(edit(plan) ?? plan));
    const dataOffset = Math.ceil((40 + text.length) / 4096) * 4096;
    const head = Buffer.alloc(dataOffset, 0x20);
    file.copy(head, 0, 0, 16);
    head.writeBigUInt64LE(BigInt(text.length), 16);
    head.writeBigUInt64LE(BigInt(dataOffset), 24);
    file.copy(head, 32, 32, 40);
    text.copy(head, 40);
    writeFileSync(join(dir, 'rank0.engine'), Buffer.concat([head, file.subarray(d)]));
    return dir;
  }

  test('a weight whose shape is not a list (was: TypeError shape.reduce)', () => {
    const dir = withPlan('shape-number', (plan) => { plan.values.find((v: any) => v.kind === 'weight').shape = 7; });
    expectLlmcError(() => readPlan(dir), /values\[\d+\]\.shape is not a 1-D or 2-D list of positive integers/);
  });

  test('a null value, a node without inputs, a missing outputs object', () => {
    expectLlmcError(() => readPlan(withPlan('null-value', (plan) => { plan.values[3] = null; })), /values\[3\] is not an object/);
    expectLlmcError(() => readPlan(withPlan('no-inputs', (plan) => { delete plan.nodes[0].inputs; })), /nodes\[0\]\.inputs is not a list of value ids/);
    expectLlmcError(() => readPlan(withPlan('no-outputs', (plan) => { delete plan.outputs; })), /the plan has no "outputs" object/);
    expectLlmcError(() => readPlan(withPlan('plan-array', () => [1])), /the plan is not a JSON object/);
  });

  test('inspect summary of a plan with 200,000 layers (was: Math.min spread past the stack)', () => {
    const nodes = Array.from({ length: 200_000 }, (_, i) => ({ op: 'add', name: `l${i}.add`, inputs: [], outputs: [] }));
    expect(summarizePlan({ nodes, values: [] } as never).layers).toBe(200_000);
  });

  test('a manifest nested 100,000 deep', () => {
    const dir = join(work, 'deep-manifest');
    cpSync(engine, dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), `{"format_version": 1, "x": ${deep(100000)}}`);
    expectLlmcError(() => readEngineManifest(dir), /is not valid JSON \(nesting deeper than 100 levels\)/);
  });
});

test('a tokenizer.json whose post-processor the library cannot run (was: TypeError from encode)', () => {
  const json = { ...byteTokenizerJson(), post_processor: { type: 'TemplateProcessing', single: ['x'], pair: ['x'], special_tokens: {} } };
  const tok = new TextTokenizer(json, byteTokenizerConfig());
  expectLlmcError(() => tok.encode('hello'), /tokenizer\.json cannot encode text: /);
});

test('a chat template with a 100,000-space run is refused at once (was: a 10 s quadratic lexer stall)', () => {
  const started = performance.now();
  expectLlmcError(() => renderChatTemplate(`{{ bos_token${' '.repeat(100_000)}}}`, [{ role: 'user', content: 'hi' }], { bos_token: '<s>' }),
    /chat_template .* has a run of more than 1024 whitespace characters/);
  expect(renderChatTemplate(`{{ bos_token }}${' '.repeat(1000)}x`, [], { bos_token: '<s>' })).toBe(`<s>${' '.repeat(1000)}x`);
  expectLlmcError(() => renderChatTemplate('x'.repeat(300 * 1024), [], {}), /is 307200 characters long, over the 262144/);
  expect(performance.now() - started).toBeLessThan(5000);
});

test('request fields and a model name with a line break give one-line errors (was: the name echoed with its \\n)', async () => {
  // llmc serve on kjv-tiny over HTTP, each response held to the http fuzz target's contract (checkResponse).
  const { buildKjvEngine, startServer } = await import('../serve/helpers.js');
  const { checkResponse } = await import('../../src/fuzz/targets/http.js');
  const s = await startServer(buildKjvEngine());
  try {
    const cases: [string, unknown, RegExp][] = [
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], 'stream_opti\ns': true }, /^HTTP 400: unknown field `stream_opti\\ns`/],
      ['/v1/completions', { prompt: 'x', stream_options: { 'a\r\nb': true } }, /^HTTP 400: unknown field `stream_options\.a\\r\\nb`/],
      ['/v1/completions', { prompt: 'x', model: 'kjv\nother', max_tokens: 1 }, /^HTTP 404: The model `kjv\\nother` does not exist/],
    ];
    for (const [url, body, pattern] of cases) {
      const res = await fetch(`${s.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await res.text();
      expectLlmcError(() => checkResponse(res.status, res.headers.get('content-type') ?? '', text, url), pattern);
    }
  } finally {
    await s.close();
  }
}, 120_000);

test('http seed 1000 input 9256: compounding mutations stay under the growth cap (was: a mutator RangeError ending the run)', async () => {
  const { httpTarget } = await import('../../src/fuzz/targets/http.js');
  const { makeCase } = await import('../../src/fuzz/worker.js');
  const c = makeCase(httpTarget, await httpTarget.corpus(), 1000, 9256);
  expect(c.files['body.json'].length).toBeGreaterThan(16 * 1024 * 1024);   // still a huge body: the cap cut it, not away
  expect(c.files['body.json'].length).toBeLessThan(40 * 1024 * 1024);
});
