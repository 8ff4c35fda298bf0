// IR text form: print -> parse -> print is the identity, parse(print(g)) equals g, and hand-written IR reads.
import { parseGraph, ParseError } from '../../src/compiler/ir/parse.js';
import { printGraph } from '../../src/compiler/ir/print.js';
import { verify } from '../../src/compiler/ir/verify.js';
import { formatNumber } from '../../src/compiler/ir/format-number.js';
import { SCHEMA_HASH } from '../../src/compiler/ir/ops.generated.js';
import { buildPipeline, runPipeline } from '../../src/passes/pipeline.js';
import { graphOf } from './graph-of.js';
import { fixtureModel } from './helpers.js';

const SMALL = `# llmc ir (schema test)
weight @embed.weight: f32[16,8] = tensor("model.embed_tokens.weight")
weight @n.weight: bf16[8] = rows(transpose(tensor("t")), 0, 8)
weight @w.weight: f16[12,8] = concat(tensor("a"), rows(tensor("b"), 2, 4))
weight @rope.inv_freq: f32[2] = const(1, 0.10000000149011612)
%0:f32[tokens,8] = embedding(@embed.weight) {scale=2.5}  # embed
%1:f32[tokens,8] = rms_norm(%0, @n.weight) {eps=1e-06, weight_offset=1}  # norm
%2:f32[tokens,12] = linear(%1, @w.weight)  # proj
%3:f32[tokens,4], %4:f32[tokens,8] = split(%2) {sizes=[4, 8]}  # proj.split -> a, b
%5:f32[tokens,8] = rope(%4, @rope.inv_freq) {num_heads=2, head_dim=4, rotary_dim=4, style=gptj}  # b_rope
%6:f32[tokens,8] = add(%5, %0)  # sum -> renamed
%7:f32[logit_rows,8] = select_rows(%6)  # logit_rows
%8:f32[logit_rows,16] = linear(%7, @embed.weight)  # logits
output logits = %8
`;

describe('IR text', () => {
  test('hand-written IR parses, verifies except for the dead split output, and prints back identically', () => {
    const g = parseGraph(SMALL);
    expect(g.weights.get('w.weight')!.source).toEqual({ op: 'concat', srcs: [{ op: 'tensor', name: 'a' }, { op: 'rows', src: { op: 'tensor', name: 'b' }, start: 2, count: 4 }] });
    expect(g.acts.get(3)!.name).toBe('a');
    expect(g.acts.get(6)!.name).toBe('renamed');
    expect(g.nodes[2].inputs).toEqual([{ kind: 'act', id: 1 }, { kind: 'weight', name: 'w.weight' }]);
    expect(g.nodes[0].attrs).toEqual({ scale: 2.5 });
    verify(g);  // %3 is unread, but its sibling %4 is: the split is live
    expect(printGraph(g)).toBe(SMALL.replace('(schema test)', `(schema ${SCHEMA_HASH})`));
  });

  test('an absent input written as _ parses; trailing ones are not canonical', () => {
    const text = SMALL.replace('%2:f32[tokens,12] = linear(%1, @w.weight)  # proj', '%2:f32[tokens,12] = linear(%1, @w.weight, _)  # proj');
    const g = parseGraph(text);
    expect(g.nodes[2].inputs).toHaveLength(3);
    expect(() => verify(g)).toThrow(/node proj \(linear, #2\): trailing absent inputs must be omitted/);
  });

  test.each(['llama', 'qwen2', 'llama3_rope'])('%s: every pipeline stage round-trips (print . parse . print, structural equality)', (name) => {
    const stages = [graphOf(fixtureModel(name))];
    runPipeline(stages[0], buildPipeline(), (_i, _p, g) => stages.push(g));
    for (const g of stages) {
      const text = printGraph(g);
      const back = parseGraph(text);
      expect(printGraph(back)).toBe(text);
      expect(back).toEqual(g);
      verify(back);
    }
  });

  test('parse errors name the line', () => {
    expect(() => parseGraph('weight @x: f32[2] = tensor("a")\n%0:f32[tokens,2] = embedding(@x {scale=1}  # e\noutput logits = %0')).toThrow(ParseError);
    expect(() => parseGraph('weight @x: f32[2] = tensor("a")\n%0:f32[tokens,2] = embedding(@x {scale=1}  # e\noutput logits = %0')).toThrow(/IR line 2/);
    expect(() => parseGraph('weight @x: f32[2] = sqrt(tensor("a"))\noutput logits = %0')).toThrow(/unknown weight source 'sqrt'/);
    expect(() => parseGraph('weight @x: f32[2] = tensor("a")')).toThrow(/missing `output logits/);
    expect(() => parseGraph('%0:f32[tokens,2], %1:f32[tokens,2] = split(%9) {sizes=[1, 1]}  # s\noutput logits = %0')).toThrow(/2 outputs but 1 names/);
  });

  test('numbers print shortest and Python-style for small magnitudes, and read back exactly', () => {
    expect(formatNumber(1e-5)).toBe('1e-05');
    expect(formatNumber(1e-6)).toBe('1e-06');
    expect(formatNumber(0.25)).toBe('0.25');
    expect(formatNumber(10000)).toBe('10000');
    expect(formatNumber(Math.fround(0.1))).toBe('0.10000000149011612');
    expect(formatNumber(1.5e-7)).toBe('1.5e-07');
    for (const x of [1e-5, 1 / Math.sqrt(24), Math.fround(3.9528473280370235e-05), -0.0001234, 1e300, 5e-324]) {
      expect(Number(formatNumber(x))).toBe(x);
    }
  });
});
