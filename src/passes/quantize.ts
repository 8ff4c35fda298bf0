// quantize: linear -> linear_q for (1) every linear whose weight is a pre-quantized checkpoint module (repacked
// bit-exactly, never re-quantized) and (2) with a scheme (llmc build --quantize int8|int4|fp8), every decoder
// linear (l{i}.*) that is not kept in float, round-to-nearest:
//   %y = linear(%x, @l0.q.weight)
//   ->  %y = linear_q(%x, @l0.q.qweight, @l0.q.scales, @l0.q.offsets) {group_size=128}
//   with @l0.q.qweight: u4[out,in] = quantize(int4, g128, asym, codes, tensor("...q_proj.weight")), ...
// Embeddings, norms and the LM head stay float unless asked (quantizeLmHead). A linear whose in_features the
// group size does not divide takes the largest of 128/64/32 that does, else stays float; every decision is
// recorded in `decisions` (the build prints them; inspect shows them), never silent.
// Runs before fuse_sibling_linears, which then fuses quantized siblings (same code dtype and group size): a
// pre-quantized checkpoint's modules each keep their own metadata (GPTQ act-order permutations differ).
import { fail } from '../errors.js';
import { cloneGraph, removeUnusedValues, type Graph, type Node, type Weight } from '../compiler/ir/graph.js';
import { constant, packed, quantize, scaleCols, sourceTensors, type QuantScheme, type WeightSource } from '../compiler/ir/weight-source.js';
import type { PackedModule } from '../compiler/quant/packed.js';
import { packedLayout } from '../compiler/quant/packed.js';
import { codeDType, schemeHasOffsets } from '../compiler/quant/rtn.js';
import type { Pass } from './pass.js';

export type SchemeName = 'int8' | 'int4' | 'fp8';

export interface QuantizeOptions {
  scheme?: SchemeName;             // undefined: only pre-quantized modules are converted
  groupSize?: number;              // int4: 32 | 64 | 128 (default 128); int8 / fp8: per output channel
  symmetric?: boolean;             // int4 only (int8 and fp8 are symmetric)
  keepFloat?: RegExp[];            // node names (l3.down) or checkpoint tensor names kept in float
  quantizeLmHead?: boolean;
  /** Virtual `<module>.weight` tensors of a pre-quantized checkpoint. */
  packed?: ReadonlyMap<string, PackedModule>;
  /** AWQ (llmc build --calib, quant/awq.ts): per input activation name, the column scales s of its linears. */
  inputScales?: ReadonlyMap<string, Float32Array>;
  /** llmc build --int8-activations: integer-coded linears with int8 activations in every step (linear_q activation_bits). */
  int8Activations?: boolean;
  /** Filled with one entry per linear considered. */
  decisions?: QuantDecision[];
}

export interface QuantDecision {
  node: string;
  scheme: string;                  // e.g. "int4 g128 asym", "gptq int4 g32 sym (repacked)", or "float"
  reason?: string;                 // why float, or why another group size
}

export const INT4_GROUP_SIZES = [128, 64, 32];

export function quantizePass(opts: QuantizeOptions): Pass {
  return { name: 'quantize', run: (g) => run(g, opts) };
}

/** The scheme a linear gets under opts, or why it stays float (shared by the pass and the AWQ search). */
export function linearScheme(n: Node, wt: Weight, opts: QuantizeOptions): { scheme: QuantScheme; note?: string } | { float: string } {
  const why = floatReason(n, wt, opts);
  if (why) return { float: why };
  const inF = wt.shape[1];
  let group = inF;
  let note: string | undefined;
  if (opts.scheme === 'int4') {
    const want = opts.groupSize ?? 128;
    const tries = [...new Set([want, ...INT4_GROUP_SIZES.filter((x) => x < want)])];
    const fits = tries.find((x) => inF % x === 0);
    if (fits === undefined) return { float: `in_features ${inF} is not a multiple of ${tries.join(', ')}` };
    if (fits !== want) note = `group ${want} does not divide in_features ${inF}: group ${fits}`;
    group = fits;
  }
  const scheme: QuantScheme = { kind: opts.scheme!, groupSize: group, symmetric: opts.scheme === 'int4' ? opts.symmetric ?? false : true };
  return note ? { scheme, note } : { scheme };
}

function run(input: Graph, opts: QuantizeOptions): Graph {
  const g = cloneGraph(input);
  const decisions = opts.decisions;
  g.nodes = g.nodes.map((n) => {
    if (n.op !== 'linear') return n;
    const wt = g.weights.get((n.inputs[1] as { name: string }).name)!;
    const mods = packedModules(wt.source, opts.packed);
    if (mods.length > 0) return repack(g, n, wt, mods, opts, decisions);
    if (!opts.scheme) return n;
    const plan = linearScheme(n, wt, opts);
    if ('float' in plan) {
      decisions?.push({ node: n.name, scheme: 'float', reason: plan.float });
      return n;
    }
    const { scheme } = plan;
    const group = scheme.groupSize;
    const inF = wt.shape[1];
    // AWQ (--calib): the weight's columns are scaled by s before quantization and the input by 1/s, one shared
    // [in] weight per input activation so fused siblings keep one.
    const input = g.acts.get((n.inputs[0] as { id: number }).id)!;
    const s = opts.inputScales?.get(input.name);
    let invScale: Weight | null = null;
    if (s) {
      const name = `${input.name}.awq_inv_scale`;
      invScale = g.weights.get(name) ?? { name, dtype: 'f32', shape: [inF], source: constant(Array.from(s, (v) => 1 / v)) };
    }
    decisions?.push({ node: n.name, scheme: schemeLabel(scheme) + (s ? ' awq' : ''), ...(plan.note ? { reason: plan.note } : {}) });
    const src = s ? scaleCols(wt.source, s) : wt.source;
    const base = baseName(wt);
    const part = (p: 'codes' | 'scales' | 'offsets', dtype: Weight['dtype'], shape: number[]): Weight =>
      ({ name: `${base}.${p === 'codes' ? 'qweight' : p}`, dtype, shape, source: quantize(scheme, p, src) });
    const [outF] = wt.shape;
    const q = part('codes', codeDType(scheme), [outF, inF]);
    const sc = part('scales', 'f32', [outF, inF / group]);
    const o = schemeHasOffsets(scheme) ? part('offsets', 'f32', [outF, inF / group]) : null;
    return linearQ(g, n, [q, sc, o, null, invScale], group, actBits(opts, q.dtype));
  });
  removeUnusedValues(g);
  return g;
}

export function schemeLabel(s: QuantScheme): string {
  return s.kind === 'int4' ? `int4 g${s.groupSize} ${s.symmetric ? 'sym' : 'asym'}` : `${s.kind} per-channel`;
}

function floatReason(n: Node, wt: Weight, opts: QuantizeOptions): string | null {
  // The node (l0.attn_out), its weight (l0.o.weight, l0.o) and the checkpoint tensors (..o_proj.weight, ..o_proj).
  const strip = (x: string) => (x.endsWith('.weight') ? [x, x.slice(0, -'.weight'.length)] : [x]);
  const names = [n.name, ...strip(wt.name), ...sourceTensors(wt.source).flatMap(strip)];
  const kept = opts.keepFloat?.find((re) => names.some((x) => re.test(x)));
  if (kept) return `--keep-float ${kept.source}`;
  if (n.name === 'logits') return opts.quantizeLmHead ? null : 'the LM head stays float (--quantize-lm-head quantizes it)';
  if (!/^l\d+\./.test(n.name)) return 'not a decoder-layer linear';
  return null;
}

/** l0.q.weight -> l0.q; a tied or odd name keeps the node's name. */
function baseName(wt: Weight): string {
  return wt.name.endsWith('.weight') ? wt.name.slice(0, -'.weight'.length) : wt.name;
}

/** The pre-quantized modules `src` reads (all or none of its tensors must be pre-quantized). */
function packedModules(src: WeightSource, table: ReadonlyMap<string, PackedModule> | undefined): PackedModule[] {
  if (!table) return [];
  const names = sourceTensors(src);
  const mods = names.map((x) => table.get(x)).filter((m): m is PackedModule => m !== undefined);
  if (mods.length > 0 && mods.length !== names.length) {
    fail('UNSUPPORTED', `a linear reads both quantized and float checkpoint tensors (${names.join(', ')})`, 'every part of one projection must be quantized the same way');
  }
  return mods;
}

function repack(g: Graph, n: Node, wt: Weight, mods: PackedModule[], opts: QuantizeOptions, decisions?: QuantDecision[]): Node {
  const first = mods[0];
  const lay = packedLayout(first);
  for (const m of mods.slice(1)) {
    const l = packedLayout(m);
    if (m.groupSize !== first.groupSize || l.codes !== lay.codes || l.offsets !== lay.offsets || m.format.kind !== first.format.kind) {
      fail('UNSUPPORTED', `${m.module} and ${first.module} form one projection but are quantized differently`, 'requantize the checkpoint with one scheme for these modules');
    }
  }
  if (lay.perm && (mods.length > 1 || wt.source.op !== 'tensor')) {
    fail('UNSUPPORTED', `${first.module}: act-order (desc_act) weights that the model splits or concatenates are not supported`, 'use a checkpoint quantized with desc_act: false');
  }
  if (wt.source.op === 'transpose' || JSON.stringify(wt.source).includes('"transpose"')) {
    fail('UNSUPPORTED', `${first.module}: this family stores the projection transposed, which llmc cannot repack from a quantized checkpoint`, 'build from the float checkpoint with --quantize');
  }
  decisions?.push({ node: n.name, scheme: `${first.format.label} (repacked)` });
  const base = baseName(wt);
  const group = first.groupSize;
  const [outF, inF] = wt.shape;
  const part = (p: 'codes' | 'scales' | 'offsets' | 'perm', dtype: Weight['dtype'], shape: number[]): Weight =>
    ({ name: `${base}.${p === 'codes' ? 'qweight' : p}`, dtype, shape, source: packed(p, group, wt.source) });
  return linearQ(g, n, [
    part('codes', lay.codes, [outF, inF]),
    part('scales', 'f32', [outF, inF / group]),
    lay.offsets ? part('offsets', 'f32', [outF, inF / group]) : null,
    lay.perm ? part('perm', 'i32', [inF]) : null,
  ], group, actBits(opts, lay.codes));
}

/** Replaces linear(x, w, bias) by linear_q(x, qweight, scales, offsets?, bias?, perm?, input_scale?). */
/** linear_q's activation_bits: 8 with --int8-activations for integer codes (fp8 codes keep f32 activations). */
function actBits(opts: QuantizeOptions, codes: Weight['dtype']): number {
  return opts.int8Activations && codes !== 'f8e4m3' ? 8 : 0;
}

function linearQ(g: Graph, n: Node, [q, s, o, perm, inScale]: (Weight | null)[], group: number, activationBits: number): Node {
  for (const w of [q, s, o, perm]) {
    if (!w) continue;
    if (g.weights.has(w.name)) throw new Error(`quantize: weight @${w.name} already exists`);
    g.weights.set(w.name, w);
  }
  if (inScale) g.weights.set(inScale.name, inScale);     // shared by the linears that read the same input
  const ref = (w: Weight | null | undefined) => (w ? { kind: 'weight' as const, name: w.name } : null);
  const inputs = [n.inputs[0], ref(q), ref(s), ref(o), n.inputs[2] ?? null, ref(perm), ref(inScale)];
  while (inputs.length > 0 && inputs[inputs.length - 1] === null) inputs.pop();
  return { op: 'linear_q', name: n.name, inputs, outputs: n.outputs, attrs: { group_size: group, activation_bits: activationBits } };
}
