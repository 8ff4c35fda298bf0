// The IR text form (read back by parse.ts; round-trip tested). One declaration or node per line:
//
//   # llmc ir (schema 335153977376d0be)
//   arena floats_per_token=416 logit_floats_per_row=576             (after plan_memory)
//   weight @l0.attn_norm.weight: f32[64] = tensor("model.layers.0.input_layernorm.weight")
//   weight @rope.inv_freq: f32[8] = const(1, 0.3162277638912201, ...)
//   %0:f32[tokens,64] = embedding(@embed.weight) {scale=1}  # embed
//   %1:f32[tokens,64]@64 = rms_norm(%0, @l0.attn_norm.weight) {eps=1e-05, weight_offset=0}  # l0.attn_norm
//   %5:f32[tokens,64], %6:f32[tokens,32], %7:f32[tokens,32] = split(%4) {sizes=[64, 32, 32]}  # l0.qkv.split -> l0.q, l0.k, l0.v
//   output logits = %42
//
// %N is an activation id, @name a weight, `_` an absent optional input in the middle (trailing ones are left
// out). A node without outputs (send) is written without `... =`. `@N` after an activation type is its arena offset: floats per token (tokens rows) or per row (logit_rows rows). After `#` comes the node name;
// a single output is named like its node unless `-> name` says otherwise; several outputs are always listed.
import { OPS, SCHEMA_HASH } from './ops.generated.js';
import { NO_LOGITS, type AttrValue, type Graph, type Node, type Operand } from './graph.js';
import { formatSource } from './weight-source.js';
import { formatNumber } from './format-number.js';

export function printGraph(g: Graph): string {
  const lines: string[] = [`# llmc ir (schema ${SCHEMA_HASH})`];
  if (g.mapping) lines.push(`mapping ${Object.entries(g.mapping).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (g.arena) lines.push(`arena floats_per_token=${g.arena.floatsPerToken} logit_floats_per_row=${g.arena.logitFloatsPerRow}`);
  for (const w of g.weights.values()) {
    lines.push(`weight @${w.name}: ${w.dtype}[${w.shape.join(',')}] = ${formatSource(w.source)}`);
  }
  for (const n of g.nodes) lines.push(printNode(g, n));
  lines.push(g.outputs.logits === NO_LOGITS ? 'output logits = none' : `output logits = %${g.outputs.logits}`);
  return lines.join('\n') + '\n';
}

export function printNode(g: Graph, n: Node): string {
  const outs = n.outputs.map((id) => {
    const a = g.acts.get(id);
    if (!a) return `%${id}:?`;
    return `%${id}:f32[${a.rows},${a.width}]${a.arenaOffset !== undefined ? `@${a.arenaOffset}` : ''}`;
  });
  const args = n.inputs.map(printOperand).join(', ');
  const attrs = printAttrs(n);
  const outNames = n.outputs.map((id) => g.acts.get(id)?.name ?? '?');
  const renamed = n.outputs.length > 1 || (n.outputs.length === 1 && outNames[0] !== n.name);
  return `${outs.length ? `${outs.join(', ')} = ` : ''}${n.op}(${args})${attrs ? ` {${attrs}}` : ''}  # ${n.name}${renamed ? ` -> ${outNames.join(', ')}` : ''}`;
}

function printOperand(x: Operand | null): string {
  if (x === null) return '_';
  return x.kind === 'act' ? `%${x.id}` : `@${x.name}`;
}

function printAttrs(n: Node): string {
  // Schema order first, then anything unknown (so the verifier's complaint is visible in dumps).
  const spec = OPS[n.op];
  const keys = spec ? spec.attrs.map((a) => a.name).filter((k) => k in n.attrs) : [];
  for (const k of Object.keys(n.attrs)) if (!keys.includes(k)) keys.push(k);
  return keys.map((k) => `${k}=${printAttr(n.attrs[k])}`).join(', ');
}

function printAttr(v: AttrValue): string {
  if (Array.isArray(v)) return `[${v.map(formatNumber).join(', ')}]`;
  return typeof v === 'number' ? formatNumber(v) : v;
}
