// Pass baselines: test/compiler/baselines/passes/<pass>/<case>.before.ir is run through the pass and compared
// with <case>.after.ir; test/compiler/baselines/pipeline/<fixture>/NN-<pass>.ir are the IR dumps of a whole
// build. After an intended change, regenerate with LLMC_ACCEPT_BASELINES=1 and review the diff.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGraph } from '../../src/compiler/ir/parse.js';
import { printGraph } from '../../src/compiler/ir/print.js';
import { verify } from '../../src/compiler/ir/verify.js';
import { liveRanges, rangesOverlap } from '../../src/compiler/ir/liveness.js';
import { canonicalize } from '../../src/passes/canonicalize.js';
import { fuseAddNorm } from '../../src/passes/fuse-add-norm.js';
import { fuseGatedActivation } from '../../src/passes/fuse-gated-activation.js';
import { fuseLinearActivation } from '../../src/passes/fuse-linear-activation.js';
import { fuseLinearRope } from '../../src/passes/fuse-linear-rope.js';
import { fuseSiblingLinears, fusedName } from '../../src/passes/fuse-sibling-linears.js';
import { planMemory, ARENA_ALIGN_FLOATS } from '../../src/passes/plan-memory.js';
import { buildPipeline, runPipeline } from '../../src/passes/pipeline.js';
import type { Pass } from '../../src/passes/pass.js';
import { graphOf } from './graph-of.js';
import { fixtureModel, repoRoot } from './helpers.js';

const ACCEPT = process.env.LLMC_ACCEPT_BASELINES === '1';
const baselines = join(repoRoot, 'test', 'compiler', 'baselines');

function expectBaseline(path: string, actual: string): void {
  if (ACCEPT || !existsSync(path)) {
    if (!ACCEPT) throw new Error(`missing baseline ${path}; run with LLMC_ACCEPT_BASELINES=1 to create it`);
    writeFileSync(path, actual);
    return;
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

const PASSES: Pass[] = [canonicalize, fuseGatedActivation, fuseSiblingLinears, fuseAddNorm, fuseLinearActivation, fuseLinearRope, planMemory];

describe.each(PASSES.map((p) => [p.name, p] as const))('pass %s', (name, pass) => {
  const dir = join(baselines, 'passes', name);
  const cases = readdirSync(dir).filter((f) => f.endsWith('.before.ir'));
  test('has baseline cases', () => expect(cases.length).toBeGreaterThan(0));
  test.each(cases)('%s', (file) => {
    const before = readFileSync(join(dir, file), 'utf8');
    const input = parseGraph(before);
    const inputText = printGraph(input);
    const after = pass.run(input);
    expect(printGraph(input)).toBe(inputText);                 // pure: the input graph is untouched
    verify(after, `after ${name}`);
    expectBaseline(join(dir, file.replace('.before.ir', '.after.ir')), printGraph(after));
  });
});

describe('pipeline baselines (IR after each pass of a whole build)', () => {
  test.each(['llama', 'qwen2', 'llama3_rope', 'llama_rope_linear', 'gpt2'])('%s', (fixture) => {
    const dir = join(baselines, 'pipeline', fixture);
    mkdirSync(dir, { recursive: true });
    const input = graphOf(fixtureModel(fixture));
    expectBaseline(join(dir, '00-input.ir'), printGraph(input));
    runPipeline(input, buildPipeline(), (i, p, g) => expectBaseline(join(dir, `${String(i + 1).padStart(2, '0')}-${p.name}.ir`), printGraph(g)));
  });

  test('--no-fuse-rope keeps the rope ops; the other fusions still run', () => {
    const passes = buildPipeline({ fuseRope: false });
    expect(passes.map((p) => p.name)).not.toContain('fuse_linear_rope');
    const g = runPipeline(graphOf(fixtureModel('llama')), passes);
    expect(g.nodes.filter((n) => n.op === 'rope')).toHaveLength(4);
    expect(g.nodes.some((n) => n.op === 'linear_rope')).toBe(false);
    const fused = runPipeline(graphOf(fixtureModel('llama')), buildPipeline());
    expect(fused.nodes.some((n) => n.op === 'rope')).toBe(false);
    expect(fused.nodes.filter((n) => n.op === 'linear_rope').map((n) => n.name)).toEqual(['l0.qkv', 'l1.qkv']);
  });

  test('fusion off keeps the builder graph (apart from planning)', () => {
    const passes = buildPipeline({ fuse: false });
    expect(passes.map((p) => p.name)).toEqual(['canonicalize', 'plan_memory']);
    const g = runPipeline(graphOf(fixtureModel('llama')), passes);
    expect(g.nodes.some((n) => n.op === 'split' || n.op === 'gated_activation')).toBe(false);
  });
});

describe('plan_memory', () => {
  test.each(['llama', 'qwen2', 'mistral'])('%s: live activations never share arena floats; offsets aligned', (fixture) => {
    const g = runPipeline(graphOf(fixtureModel(fixture)), buildPipeline());
    const live = liveRanges(g);
    const acts = [...g.acts.values()];
    for (const a of acts) {
      expect(a.arenaOffset! % ARENA_ALIGN_FLOATS).toBe(0);
      for (const b of acts) {
        // The token and logits arenas are separate buffers: only values of the same rows can collide.
        if (a.id >= b.id || a.rows !== b.rows || !rangesOverlap(live.get(a.id)!, live.get(b.id)!)) continue;
        const disjoint = a.arenaOffset! + a.width <= b.arenaOffset! || b.arenaOffset! + b.width <= a.arenaOffset!;
        expect(disjoint).toBe(true);
      }
    }
    // Reuse: far less than one slot per activation.
    const total = acts.reduce((s, a) => s + a.width, 0);
    expect(g.arena!.floatsPerToken).toBeLessThan(total / 4);
    // The logits arena holds exactly the logit_rows values, the token arena none of their widths.
    const vocab = g.acts.get(g.outputs.logits)!.width;
    expect(g.arena!.logitFloatsPerRow).toBeGreaterThanOrEqual(vocab);
    expect(acts.filter((a) => a.rows === 'tokens').every((a) => a.arenaOffset! + a.width <= g.arena!.floatsPerToken)).toBe(true);
    expect(acts.filter((a) => a.rows === 'logit_rows').every((a) => a.arenaOffset! + a.width <= g.arena!.logitFloatsPerRow)).toBe(true);
  });
});

describe('fusedName', () => {
  test.each([
    [['l0.q', 'l0.k', 'l0.v'], 'l0.qkv'],
    [['l0.gate', 'l0.up'], 'l0.gate_up'],
    [['l12.q', 'l12.k', 'l12.v', 'l12.up'], 'l12.q_k_v_up'],
    [['a', 'b'], 'ab'],
    [['x.attn.q', 'x.mlp.fc1'], 'x.attn_q_mlp_fc1'],
  ])('%j -> %s', (names, want) => expect(fusedName(names)).toBe(want));
});
