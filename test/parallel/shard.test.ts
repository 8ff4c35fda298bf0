// The shard pass at the IR level (docs/parallel.md): what each rank's graph holds, the cross-rank check, the
// stage balance, and the per-rank IR dumps. (Numerics against TP=1: parallel.test.ts.)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildEngine } from '../../src/compiler/build.js';
import { NO_LOGITS } from '../../src/compiler/ir/graph.js';
import { printGraph } from '../../src/compiler/ir/print.js';
import { parseGraph } from '../../src/compiler/ir/parse.js';
import { verify } from '../../src/compiler/ir/verify.js';
import { buildPipeline, runPipeline } from '../../src/passes/pipeline.js';
import { checkRanksAgree } from '../../src/passes/ranks-agree.js';
import { balanceStages } from '../../src/passes/shard-pipeline.js';
import { allowedTpSizes } from '../../src/passes/parallel-sizes.js';
import { fixtureModel } from '../compiler/helpers.js';
import { configOf, graphOf } from '../compiler/graph-of.js';
import { tempDir } from '../helpers/cli.js';

const ranksOf = (fixture: string, tp: number, pp: number) =>
  Array.from({ length: tp * pp }, (_, rank) => runPipeline(graphOf(fixtureModel(fixture)), buildPipeline({ shard: { tp, pp, rank } })));

test('llama TP=2: q/k/v, gate/up column-parallel, o/down row-parallel + all_reduce, vocab-parallel embedding and head', () => {
  const [r0, r1] = ranksOf('llama', 2, 1);
  const cfg = configOf(fixtureModel('llama'));
  for (const g of [r0, r1]) {
    const attn = g.nodes.find((n) => n.op === 'attention')!;
    expect(attn.attrs.num_heads).toBe(cfg.num_heads / 2);
    expect(attn.attrs.num_kv_heads).toBe(cfg.num_kv_heads / 2);
    expect(g.weights.get('l0.o.weight')!.shape).toEqual([cfg.hidden_size, (cfg.num_heads / 2) * cfg.head_dim]);
    expect(g.weights.get('embed.weight')!.shape[0]).toBe(cfg.vocab_size / 2);
    // Two all_reduces per sequential layer, one for the embedding; one all_gather for the logits.
    expect(g.nodes.filter((n) => n.op === 'all_reduce')).toHaveLength(2 * cfg.num_layers + 1);
    expect(g.nodes.filter((n) => n.op === 'all_gather')).toHaveLength(1);
    expect(g.nodes.some((n) => n.op === 'embedding_shard')).toBe(true);
  }
  expect(r0.outputs.logits).not.toBe(NO_LOGITS);
  expect(r1.outputs.logits).toBe(NO_LOGITS);
  checkRanksAgree([r0, r1]);
  // The text form round-trips with the mapping line, no-output nodes and `output logits = none`.
  const text = printGraph(r1);
  expect(text).toMatch(/^mapping rank=1, world_size=2, tp=2, pp=1, tp_rank=1/m);
  expect(text).toMatch(/^output logits = none$/m);
  const back = parseGraph(text);
  verify(back);
  expect(printGraph(back)).toBe(text);
});

test('a parallel-residual block (gpt-j) reduces attention + MLP once per layer', () => {
  const [r0] = ranksOf('gptj', 2, 1);
  const cfg = configOf(fixtureModel('gptj'));
  expect(r0.nodes.filter((n) => n.op === 'all_reduce')).toHaveLength(cfg.num_layers + 1);
});

test('MQA (falcon_mqa, gpt_bigcode): the one kv head is on every rank', () => {
  for (const f of ['falcon_mqa', 'gpt_bigcode']) {
    for (const g of ranksOf(f, 2, 1)) expect(g.nodes.find((n) => n.op === 'attention')!.attrs.num_kv_heads).toBe(1);
  }
});

test('ALiBi slopes (bloom): each rank keeps its own heads', () => {
  const whole = runPipeline(graphOf(fixtureModel('bloom')), buildPipeline()).weights.get('alibi.slopes')!.source;
  const [r0, r1] = ranksOf('bloom', 2, 1);
  const all = (whole as { values: number[] }).values;
  const half = all.length / 2;
  expect((r0.weights.get('alibi.slopes')!.source as { values: number[] }).values).toEqual(all.slice(0, half));
  expect((r1.weights.get('alibi.slopes')!.source as { values: number[] }).values).toEqual(all.slice(half));
});

test('PP=2: stages send the residual stream forward and the logits back to rank 0, KV layers numbered per stage', () => {
  const [s0, s1] = ranksOf('llama', 1, 2);
  expect(s0.nodes.filter((n) => n.op === 'send').map((n) => n.attrs.peer)).toEqual([1]);
  expect(s0.nodes[s0.nodes.length - 1].op).toBe('recv');     // the logits from the last stage
  expect(s1.nodes[0].op).toBe('recv');
  expect(s1.nodes[s1.nodes.length - 1]).toMatchObject({ op: 'send', attrs: { peer: 0 } });
  for (const g of [s0, s1]) expect(g.nodes.filter((n) => n.op === 'attention').map((n) => n.attrs.layer)).toEqual([0]);
  checkRanksAgree([s0, s1]);
});

test('ranks that would not meet are refused', () => {
  const ranks = ranksOf('llama', 2, 1);
  const r1 = ranks[1];
  const i = r1.nodes.findIndex((n) => n.op === 'all_reduce');
  r1.nodes.splice(i, 1, { ...r1.nodes[i], op: 'all_gather', attrs: { sizes: [1, 1] } });
  expect(() => checkRanksAgree(ranks)).toThrow(/rank 1 and rank 0 disagree at collective #0/);
  const pp = ranksOf('llama', 1, 2);
  pp[1].nodes.shift();                                       // drop stage 1's recv
  expect(() => checkRanksAgree(pp)).toThrow(/rank 0 sends .* to rank 1, which receives/);
});

test('stages are balanced by bytes: the embedding and LM head count on the first and last stage', () => {
  expect(balanceStages({ layers: [10, 10, 10, 10], pre: 0, post: 0 }, 2)).toEqual([0, 2, 4]);
  expect(balanceStages({ layers: [10, 10, 10, 10], pre: 25, post: 0 }, 2)).toEqual([0, 1, 4]);
  expect(balanceStages({ layers: [10, 10, 10, 10], pre: 0, post: 25 }, 2)).toEqual([0, 3, 4]);
  expect(balanceStages({ layers: [1, 1, 1], pre: 0, post: 0 }, 3)).toEqual([0, 1, 2, 3]);
});

test('allowed tp sizes: divisors of the heads that fit the kv heads and the MLP width', () => {
  expect(allowedTpSizes({ num_heads: 32, num_kv_heads: 8, intermediate_size: 11008 })).toEqual([1, 2, 4, 8, 16, 32]);
  expect(allowedTpSizes({ num_heads: 12, num_kv_heads: 12, intermediate_size: 3072 })).toEqual([1, 2, 3, 4, 6, 12]);
  expect(allowedTpSizes({ num_heads: 71, num_kv_heads: 1, intermediate_size: 18176 })).toEqual([1, 71]);
});

test('--dump-ir writes one folder per rank; the manifest records the mapping and every rank file', async () => {
  const out = join(tempDir(), 'e');
  const dump = join(tempDir(), 'ir');
  await buildEngine({ modelDir: fixtureModel('llama'), outDir: out, tpSize: 2, ppSize: 2, dumpIrDir: dump });
  for (const r of [0, 1, 2, 3]) {
    expect(existsSync(join(out, `rank${r}.engine`))).toBe(true);
    expect(readFileSync(join(dump, `rank${r}`, '05-shard.ir'), 'utf8')).toMatch(new RegExp(`^mapping rank=${r}, world_size=4, tp=2, pp=2`, 'm'));
  }
  const m = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  expect(m.mapping).toMatchObject({ world_size: 4, tp: 2, pp: 2 });
  expect(m.mapping.ranks.map((r: { file: string; pp_rank: number }) => `${r.file}:${r.pp_rank}`)).toEqual(['rank0.engine:0', 'rank1.engine:0', 'rank2.engine:1', 'rank3.engine:1']);
});
