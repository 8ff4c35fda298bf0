// Shape rules of each op (the semantics in schema/ops.json, written as code). The builder uses them to type a new
// node's outputs; the verifier uses them to check every node after every pass. Both report a problem by throwing
// OpRuleError with a message that the caller prefixes with the node's name.
import { OPS, ENUMS, type OpName, type OpSpec } from './ops.generated.js';
import type { Activation, Attrs, Node, RankMapping, Rows, Weight } from './graph.js';

export class OpRuleError extends Error {}

const FLOATS = new Set(['f32', 'f16', 'bf16']);

export interface OutType { rows: Rows; width: number }

export interface RuleContext {
  weight(name: string): Weight | undefined;
  act(id: number): Activation | undefined;
  mapping?: RankMapping;    // the rank a sharded graph runs on (communication ops check their peers against it)
}

function bad(msg: string): never {
  throw new OpRuleError(msg);
}

/** Checks arity, operand kinds, attrs and shapes; returns the output types. */
export function inferOutputs(node: Pick<Node, 'op' | 'inputs' | 'attrs'>, ctx: RuleContext): OutType[] {
  const spec: OpSpec | undefined = OPS[node.op as OpName];
  if (!spec) bad(`unknown op '${node.op}'`);
  checkAttrs(spec, node.attrs);
  if (node.inputs.length > spec.inputs.length) bad(`${spec.name} takes ${spec.inputs.length} inputs, got ${node.inputs.length}`);

  // Resolve operands by schema slot name; absent optional inputs are undefined.
  const A: Record<string, Activation> = {};
  const W: Record<string, Weight> = {};
  spec.inputs.forEach((inSpec, i) => {
    const x = node.inputs[i] ?? null;
    if (x === null) {
      if (!inSpec.optional) bad(`missing required input '${inSpec.name}'`);
      return;
    }
    if ((x.kind === 'act' ? 'activation' : 'weight') !== inSpec.kind) bad(`input '${inSpec.name}' must be ${inSpec.kind === 'weight' ? 'a weight (@name)' : 'an activation (%id)'}`);
    if (x.kind === 'act') {
      const a = ctx.act(x.id);
      if (!a) bad(`input '${inSpec.name}' reads %${x.id}, which is not defined`);
      A[inSpec.name] = a;
    } else {
      const w = ctx.weight(x.name);
      if (!w) bad(`input '${inSpec.name}' reads @${x.name}, which is not declared`);
      if (inSpec.dtype && w.dtype !== inSpec.dtype) bad(`weight @${w.name} must be ${inSpec.dtype}, is ${w.dtype}`);
      W[inSpec.name] = w;
    }
  });

  // Codes and indices (i8, u4, f8e4m3, i32) are read only by linear_q; every other weight input is a float.
  if (spec.name !== 'linear_q') {
    for (const w of Object.values(W)) if (!FLOATS.has(w.dtype)) bad(`weight @${w.name} has dtype ${w.dtype}, which only linear_q reads`);
  }
  const at = node.attrs;
  const int = (k: string) => at[k] as number;
  const vec = (w: Weight, n: number, what: string) => {
    if (w.shape.length !== 1 || w.shape[0] !== n) bad(`${what} @${w.name} has shape [${w.shape}], expected [${n}]`);
  };
  const mat = (w: Weight, what: string) => {
    if (w.shape.length !== 2) bad(`${what} @${w.name} has shape [${w.shape}], expected a 2-D [rows, cols] matrix`);
  };
  const same = (a: Activation, b: Activation) => {
    if (a.rows !== b.rows || a.width !== b.width) bad(`%${a.id} is [${a.rows},${a.width}] but %${b.id} is [${b.rows},${b.width}]`);
  };
  const like = (a: Activation): OutType[] => [{ rows: a.rows, width: a.width }];

  switch (spec.name) {
    case 'embedding':
      mat(W.table, 'table');
      return [{ rows: 'tokens', width: W.table.shape[1] }];
    case 'pos_embedding':
      mat(W.table, 'table');
      if (W.table.shape[1] !== A.x.width) bad(`table @${W.table.name} has width ${W.table.shape[1]}, x has ${A.x.width}`);
      if (int('offset') < 0) bad(`offset must be >= 0`);
      return like(A.x);
    case 'rms_norm':
    case 'layer_norm':
      vec(W.weight, A.x.width, 'weight');
      if (W.bias) vec(W.bias, A.x.width, 'bias');
      if (!(int('eps') > 0)) bad(`eps must be > 0`);
      return like(A.x);
    case 'linear':
      mat(W.weight, 'weight');
      if (W.weight.shape[1] !== A.x.width) bad(`weight @${W.weight.name} [${W.weight.shape}] has ${W.weight.shape[1]} in-features, x has width ${A.x.width}`);
      if (W.bias) vec(W.bias, W.weight.shape[0], 'bias');
      return [{ rows: A.x.rows, width: W.weight.shape[0] }];
    case 'linear_q': {
      mat(W.qweight, 'qweight');
      const [outF, inF] = W.qweight.shape;
      if (!['i8', 'u4', 'f8e4m3'].includes(W.qweight.dtype)) bad(`qweight @${W.qweight.name} must be i8, u4 or f8e4m3, is ${W.qweight.dtype}`);
      if (inF !== A.x.width) bad(`qweight @${W.qweight.name} [${W.qweight.shape}] has ${inF} in-features, x has width ${A.x.width}`);
      const gs = int('group_size');
      if (!(gs > 0) || inF % gs !== 0) bad(`group_size ${gs} must divide in_features ${inF}`);
      if (W.qweight.dtype === 'u4' && gs % 2 !== 0) bad(`u4 groups must hold an even number of columns, group_size is ${gs}`);
      for (const k of ['scales', 'offsets']) {
        const x = W[k];
        if (x && (x.shape.length !== 2 || x.shape[0] !== outF || x.shape[1] !== inF / gs)) bad(`${k} @${x.name} has shape [${x.shape}], expected [${outF}, ${inF / gs}]`);
      }
      if (W.bias) {
        vec(W.bias, outF, 'bias');
        if (!FLOATS.has(W.bias.dtype)) bad(`bias @${W.bias.name} must be a float weight`);
      }
      if (W.perm) vec(W.perm, inF, 'perm');
      if (W.input_scale) vec(W.input_scale, inF, 'input_scale');
      const ab = int('activation_bits');
      if (ab !== 0 && !(ab === 8 && W.qweight.dtype !== 'f8e4m3')) bad(`activation_bits ${ab} must be 0, or 8 with i8/u4 codes`);
      return [{ rows: A.x.rows, width: outF }];
    }
    case 'rope': {
      const [heads, hd, rd] = [int('num_heads'), int('head_dim'), int('rotary_dim')];
      if (heads <= 0 || hd <= 0) bad(`num_heads and head_dim must be > 0`);
      if (A.x.width !== heads * hd) bad(`x has width ${A.x.width}, num_heads*head_dim is ${heads * hd}`);
      if (rd <= 0 || rd > hd || rd % 2 !== 0) bad(`rotary_dim ${rd} must be even and in (0, head_dim=${hd}]`);
      vec(W.inv_freq, rd / 2, 'inv_freq');
      return like(A.x);
    }
    case 'attention': {
      const [heads, kvHeads, hd] = [int('num_heads'), int('num_kv_heads'), int('head_dim')];
      if (heads <= 0 || kvHeads <= 0 || hd <= 0 || heads % kvHeads !== 0) bad(`num_heads ${heads} must be a positive multiple of num_kv_heads ${kvHeads}`);
      if (A.q.width !== heads * hd) bad(`q has width ${A.q.width}, num_heads*head_dim is ${heads * hd}`);
      for (const k of ['k', 'v']) if (A[k].width !== kvHeads * hd) bad(`${k} has width ${A[k].width}, num_kv_heads*head_dim is ${kvHeads * hd}`);
      for (const k of ['q', 'k', 'v']) if (A[k].rows !== 'tokens') bad(`${k} must have rows 'tokens'`);
      if (W.alibi_slopes) vec(W.alibi_slopes, heads, 'alibi_slopes');
      if (int('layer') < 0 || int('sliding_window') < 0) bad(`layer and sliding_window must be >= 0`);
      if (!(int('scale') > 0)) bad(`scale must be > 0`);
      return [{ rows: A.q.rows, width: heads * hd }];
    }
    case 'add':
    case 'mul':
      same(A.a, A.b);
      return like(A.a);
    case 'activation':
      return like(A.x);
    case 'gated_activation':
      same(A.gate, A.up);
      return like(A.gate);
    case 'split': {
      const sizes = at.sizes as number[];
      if (sizes.length < 1 || sizes.some((s) => s <= 0)) bad(`sizes must be positive`);
      const total = sizes.reduce((a, b) => a + b, 0);
      if (total !== A.x.width) bad(`sizes [${sizes}] add up to ${total}, x has width ${A.x.width}`);
      return sizes.map((w) => ({ rows: A.x.rows, width: w }));
    }
    case 'select_rows':
      if (A.x.rows !== 'tokens') bad(`x must have rows 'tokens'`);
      return [{ rows: 'logit_rows', width: A.x.width }];
    case 'add_rms_norm':
    case 'add_layer_norm':
      same(A.a, A.b);
      vec(W.weight, A.a.width, 'weight');
      if (W.bias) vec(W.bias, A.a.width, 'bias');
      if (!(int('eps') > 0)) bad(`eps must be > 0`);
      return [...like(A.a), ...like(A.a)];
    case 'linear_act':
      mat(W.weight, 'weight');
      if (W.weight.shape[1] !== A.x.width) bad(`weight @${W.weight.name} [${W.weight.shape}] has ${W.weight.shape[1]} in-features, x has width ${A.x.width}`);
      if (W.bias) vec(W.bias, W.weight.shape[0], 'bias');
      return [{ rows: A.x.rows, width: W.weight.shape[0] }];
    case 'linear_rope': {
      mat(W.weight, 'weight');
      if (W.weight.shape[1] !== A.x.width) bad(`weight @${W.weight.name} [${W.weight.shape}] has ${W.weight.shape[1]} in-features, x has width ${A.x.width}`);
      if (W.bias) vec(W.bias, W.weight.shape[0], 'bias');
      const [heads, hd, rd] = [int('num_heads'), int('head_dim'), int('rotary_dim')];
      if (heads <= 0 || hd <= 0) bad(`num_heads and head_dim must be > 0`);
      if (heads * hd > W.weight.shape[0]) bad(`num_heads*head_dim ${heads * hd} rotated columns, but the output has ${W.weight.shape[0]}`);
      if (rd <= 0 || rd > hd || rd % 2 !== 0) bad(`rotary_dim ${rd} must be even and in (0, head_dim=${hd}]`);
      vec(W.inv_freq, rd / 2, 'inv_freq');
      if (A.x.rows !== 'tokens') bad(`x must have rows 'tokens' (rope reads each token's position)`);
      return [{ rows: A.x.rows, width: W.weight.shape[0] }];
    }
    case 'all_reduce':
      if (!ctx.mapping || ctx.mapping.tp < 2) bad(`all_reduce needs a graph sharded with tp >= 2`);
      return like(A.x);
    case 'all_gather': {
      const sizes = at.sizes as number[];
      const m = ctx.mapping;
      if (!m || sizes.length !== m.tp || m.tp < 2) bad(`sizes must have one entry per tensor-parallel rank (tp ${m?.tp ?? 1})`);
      if (sizes.some((s) => s <= 0)) bad(`sizes must be positive`);
      if (sizes[m.tp_rank] !== A.x.width) bad(`x has width ${A.x.width}, sizes[${m.tp_rank}] is ${sizes[m.tp_rank]}`);
      return [{ rows: A.x.rows, width: sizes.reduce((a, b) => a + b, 0) }];
    }
    case 'send':
    case 'recv': {
      const m = ctx.mapping;
      const peer = int('peer');
      if (!m || peer < 0 || peer >= m.world_size || peer === m.rank) bad(`peer ${peer} must be another rank of the world (size ${m?.world_size ?? 1})`);
      if (spec.name === 'send') return [];
      if (int('width') <= 0) bad(`width must be > 0`);
      return [{ rows: at.rows as Rows, width: int('width') }];
    }
    case 'embedding_shard':
      mat(W.table, 'table');
      if (int('vocab_start') < 0) bad(`vocab_start must be >= 0`);
      return [{ rows: 'tokens', width: W.table.shape[1] }];
  }
}

function checkAttrs(spec: OpSpec, attrs: Attrs): void {
  for (const k of Object.keys(attrs)) {
    if (!spec.attrs.some((a) => a.name === k)) bad(`unknown attr '${k}' (${spec.name} has: ${spec.attrs.map((a) => a.name).join(', ') || 'none'})`);
  }
  for (const a of spec.attrs) {
    const v = attrs[a.name];
    if (v === undefined) bad(`missing attr '${a.name}'`);
    switch (a.type) {
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v)) bad(`attr '${a.name}' must be an int, got ${JSON.stringify(v)}`);
        break;
      case 'float':
        if (typeof v !== 'number' || !Number.isFinite(v)) bad(`attr '${a.name}' must be a finite float, got ${JSON.stringify(v)}`);
        break;
      case 'enum': {
        const values = ENUMS[a.enum!];
        if (typeof v !== 'string' || !values.includes(v)) bad(`attr '${a.name}' must be one of ${values.join('|')}, got ${JSON.stringify(v)}`);
        break;
      }
      case 'int[]':
        if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x))) bad(`attr '${a.name}' must be an int[], got ${JSON.stringify(v)}`);
        break;
    }
  }
}

/** Attrs with the schema defaults filled in for those not given. */
export function withDefaults(op: OpName, attrs: Attrs): Attrs {
  const out: Attrs = {};
  for (const a of OPS[op].attrs) {
    const v = attrs[a.name] ?? a.default;
    if (v !== undefined) out[a.name] = v;
  }
  for (const [k, v] of Object.entries(attrs)) if (!(k in out)) out[k] = v; // unknown attrs: let the verifier name them
  return out;
}
