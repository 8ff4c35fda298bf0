// Verifier negative tests: each broken graph is rejected with a message naming the node or value at fault.
import { parseGraph } from '../../src/compiler/ir/parse.js';
import { verify, VerifyError } from '../../src/compiler/ir/verify.js';
import { planMemory } from '../../src/passes/plan-memory.js';

// A tiny valid model: embedding -> norm -> q/k/v -> rope -> attention -> o -> residual -> head.
const BASE = `
weight @embed.weight: f32[32,8] = tensor("e")
weight @n.weight: f32[8] = tensor("n")
weight @q.weight: f32[8,8] = tensor("q")
weight @k.weight: f32[4,8] = tensor("k")
weight @v.weight: f32[4,8] = tensor("v")
weight @o.weight: f32[8,8] = tensor("o")
weight @rope.inv_freq: f32[2] = const(1, 0.5)
%0:f32[tokens,8] = embedding(@embed.weight) {scale=1}  # embed
%1:f32[tokens,8] = rms_norm(%0, @n.weight) {eps=1e-05, weight_offset=0}  # l0.attn_norm
%2:f32[tokens,8] = linear(%1, @q.weight)  # l0.q
%3:f32[tokens,4] = linear(%1, @k.weight)  # l0.k
%4:f32[tokens,4] = linear(%1, @v.weight)  # l0.v
%5:f32[tokens,8] = rope(%2, @rope.inv_freq) {num_heads=2, head_dim=4, rotary_dim=4, style=neox}  # l0.q_rope
%6:f32[tokens,4] = rope(%3, @rope.inv_freq) {num_heads=1, head_dim=4, rotary_dim=4, style=neox}  # l0.k_rope
%7:f32[tokens,8] = attention(%5, %6, %4) {layer=0, num_heads=2, num_kv_heads=1, head_dim=4, scale=0.5, sliding_window=0}  # l0.attn
%8:f32[tokens,8] = linear(%7, @o.weight)  # l0.attn_out
%9:f32[tokens,8] = add(%0, %8)  # l0.out
%10:f32[logit_rows,8] = select_rows(%9)  # logit_rows
%11:f32[logit_rows,32] = linear(%10, @embed.weight)  # logits
output logits = %11
`;

function broken(edit: (text: string) => string): () => void {
  const text = edit(BASE);
  if (text === BASE) throw new Error('edit changed nothing');
  return () => verify(parseGraph(text));
}
const sub = (from: string, to: string) => (t: string) => t.replace(from, to);

describe('verifier', () => {
  test('the base graph is valid', () => {
    verify(parseGraph(BASE));
    verify(planMemory.run(parseGraph(BASE)));
  });

  test.each([
    ['unknown op', sub('= add(%0, %8)', '= addd(%0, %8)'), /node l0.out \(addd, #9\): unknown op 'addd'/],
    ['too many inputs', sub('= add(%0, %8)', '= add(%0, %8, %1)'), /node l0.out \(add, #9\): add takes 2 inputs, got 3/],
    ['missing required input', sub('= add(%0, %8)', '= add(%0)'), /node l0.out \(add, #9\): missing required input 'b'/],
    ['activation where a weight belongs', sub('linear(%1, @q.weight)', 'linear(%1, %0)'), /node l0.q \(linear, #2\): input 'weight' must be a weight/],
    ['weight where an activation belongs', sub('= add(%0, %8)', '= add(@n.weight, %8)'), /node l0.out .*input 'a' must be an activation/],
    ['undeclared weight', sub('linear(%1, @q.weight)', 'linear(%1, @nope.weight)'), /node l0.q .*reads @nope.weight, which is not declared/],
    ['missing attr', sub('{eps=1e-05, weight_offset=0}', '{weight_offset=0}'), /node l0.attn_norm \(rms_norm, #1\): missing attr 'eps'/],
    ['unknown attr', sub('{scale=1}', '{scale=1, bias=2}'), /node embed .*unknown attr 'bias'/],
    ['int attr not an int', sub('layer=0,', 'layer=0.5,'), /node l0.attn .*attr 'layer' must be an int/],
    ['enum attr value', sub('style=neox}  # l0.q_rope', 'style=sideways}  # l0.q_rope'), /node l0.q_rope .*attr 'style' must be one of neox\|gptj, got "sideways"/],
    ['linear in-features', sub('@q.weight: f32[8,8]', '@q.weight: f32[8,6]'), /node l0.q \(linear, #2\): weight @q.weight \[8,6\] has 6 in-features, x has width 8/],
    ['output width disagrees with the op', sub('%2:f32[tokens,8] = linear', '%2:f32[tokens,6] = linear'), /node l0.q .*output %2 \(l0.q\) is \[tokens,6\], the op makes \[tokens,8\]/],
    ['norm weight shape', sub('@n.weight: f32[8]', '@n.weight: f32[7]'), /node l0.attn_norm .*weight @n.weight has shape \[7\], expected \[8\]/],
    ['rope width vs heads', sub('{num_heads=2, head_dim=4, rotary_dim=4, style=neox}  # l0.q_rope', '{num_heads=3, head_dim=4, rotary_dim=4, style=neox}  # l0.q_rope'), /node l0.q_rope .*x has width 8, num_heads\*head_dim is 12/],
    ['rope inv_freq length', sub('@rope.inv_freq: f32[2] = const(1, 0.5)', '@rope.inv_freq: f32[3] = const(1, 0.5, 0.25)'), /node l0.q_rope .*inv_freq @rope.inv_freq has shape \[3\], expected \[2\]/],
    ['rope inv_freq dtype', sub('@rope.inv_freq: f32[2]', '@rope.inv_freq: f16[2]'), /node l0.q_rope .*weight @rope.inv_freq must be f32, is f16/],
    ['gqa heads', sub('num_heads=2, num_kv_heads=1', 'num_heads=2, num_kv_heads=3'), /node l0.attn .*num_heads 2 must be a positive multiple of num_kv_heads 3/],
    ['attention k width', sub('num_heads=2, num_kv_heads=1, head_dim=4', 'num_heads=2, num_kv_heads=2, head_dim=4'), /node l0.attn .*k has width 4, num_kv_heads\*head_dim is 8/],
    ['add shapes', sub('= add(%0, %8)', '= add(%0, %3)'), /node l0.out .*%0 is \[tokens,8\] but %3 is \[tokens,4\]/],
    ['select_rows twice', sub('%11:f32[logit_rows,32] = linear(%10, @embed.weight)', '%12:f32[logit_rows,8] = select_rows(%10)  # again\n%11:f32[logit_rows,32] = linear(%12, @embed.weight)'), /node again .*x must have rows 'tokens'/],
    ['split sizes', sub('%9:f32[tokens,8] = add(%0, %8)  # l0.out', '%9:f32[tokens,8] = add(%0, %8)  # l0.out\n%20:f32[tokens,4], %21:f32[tokens,3] = split(%9) {sizes=[4, 3]}  # s -> s0, s1\n%22:f32[tokens,4] = add(%20, %21)  # use'), /node s \(split, #10\): sizes \[4,3\] add up to 7, x has width 8/],
    ['not topologically ordered', sub('%1:f32[tokens,8] = rms_norm(%0,', '%1:f32[tokens,8] = rms_norm(%9,'), /node l0.attn_norm \(rms_norm, #1\): reads %9 before it is defined \(nodes are not in topological order\)/],
    ['undefined activation', sub('= add(%0, %8)', '= add(%0, %42)'), /node l0.out .*reads %42, which is not defined/],
    ['duplicate value name', sub('# l0.k\n', '# l0.q\n'), /two (values|nodes) are named l0.q/],
    ['dead activation', sub('%10:f32[logit_rows,8] = select_rows(%9)', '%30:f32[tokens,8] = add(%9, %9)  # unused\n%10:f32[logit_rows,8] = select_rows(%9)'), /activation %30 \(unused\) is dead/],
    ['unused weight', (t: string) => t.replace('weight @o.weight', 'weight @spare.weight: f32[8] = tensor("s")\nweight @o.weight'), /weight @spare.weight is used by no node/],
    ['weight dtype', sub('@n.weight: f32[8]', '@n.weight: f64[8]'), /weight @n.weight has dtype f64/],
    ['3-D weight', sub('@o.weight: f32[8,8]', '@o.weight: f32[8,8,1]'), /weight @o.weight has shape \[8,8,1\]/],
    ['logits rows', sub('output logits = %11', 'output logits = %9'), /output logits %9 \(l0.out\) must have rows 'logit_rows'/],
    ['an attention layer used twice', sub('%9:f32[tokens,8] = add(%0, %8)  # l0.out', '%20:f32[tokens,8] = attention(%5, %6, %4) {layer=0, num_heads=2, num_kv_heads=1, head_dim=4, scale=0.5, sliding_window=0}  # l1.attn\n%9:f32[tokens,8] = add(%20, %8)  # l0.out'), /node l1.attn .*layer 0 is also used by node l0.attn/],
  ])('%s', (_what, edit, message) => {
    const run = broken(edit as (t: string) => string);
    expect(run).toThrow(VerifyError);
    expect(run).toThrow(message as RegExp);
  });

  test('arena: overlapping live activations are rejected, naming both', () => {
    const g = planMemory.run(parseGraph(BASE));
    verify(g);
    // l0.q (%2) and l0.k (%3) are live together (both read later by rope / attention).
    g.acts.get(3)!.arenaOffset = g.acts.get(2)!.arenaOffset! + 4;
    expect(() => verify(g)).toThrow(/activations %2 \(l0.q\) at \[\d+, \d+\) and %3 \(l0.k\) at \[\d+, \d+\) overlap in the token arena while both are live/);
  });

  test('arena: overlapping live activations of the logits arena are rejected, naming both', () => {
    const g = planMemory.run(parseGraph(BASE));
    // First fit, largest first: logits (%11, 32 wide) at [0, 32), logit_rows (%10) at [32, 40); both live at the LM head.
    expect([g.acts.get(11)!.arenaOffset, g.acts.get(10)!.arenaOffset, g.arena!.logitFloatsPerRow]).toEqual([0, 32, 48]);
    g.acts.get(10)!.arenaOffset = 24;
    expect(() => verify(g)).toThrow('activations %11 (logits) at [0, 32) and %10 (logit_rows) at [24, 32) overlap in the logits arena while both are live');
  });

  test('arena: an activation past logit_floats_per_row is rejected', () => {
    const g = planMemory.run(parseGraph(BASE));
    g.arena!.logitFloatsPerRow = 39;
    expect(() => verify(g)).toThrow('activation %10 (logit_rows) at logits arena [32, 40) exceeds logit_floats_per_row 39');
  });

  test('arena: a tokens value and a logit_rows value at the same offset do not conflict (separate arenas)', () => {
    // x (%0, tokens) is live where select_rows writes %1 (logit_rows): same offset 0, different buffers.
    const text = (lfpr: number) => `arena floats_per_token=16 logit_floats_per_row=${lfpr}
weight @embed.weight: f32[32,8] = tensor("e")
%0:f32[tokens,8]@0 = embedding(@embed.weight) {scale=1}  # embed
%1:f32[logit_rows,8]@0 = select_rows(%0)  # logit_rows
%2:f32[logit_rows,32]@16 = linear(%1, @embed.weight)  # logits
output logits = %2
`;
    verify(parseGraph(text(48)));
    expect(() => verify(parseGraph(text(40)))).toThrow('activation %2 (logits) at logits arena [16, 48) exceeds logit_floats_per_row 40');
  });

  test('arena: an activation past floats_per_token or without an offset is rejected', () => {
    const g = planMemory.run(parseGraph(BASE));
    g.arena!.floatsPerToken = 4;
    expect(() => verify(g)).toThrow(/exceeds floats_per_token 4/);
    const h = planMemory.run(parseGraph(BASE));
    delete h.acts.get(5)!.arenaOffset;
    expect(() => verify(h)).toThrow(/activation %5 \(l0.q_rope\) has no arena offset/);
  });
});
