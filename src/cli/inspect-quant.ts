// llmc inspect's quantization section: the scheme, each linear's storage (grouped over layers: l*.qkv), its bytes,
// the linears kept in float and why, and the accuracy figures the build's gate measured.
import type { Plan } from './compiler.js';
import { formatBytes } from './format.js';

export interface LinearRow { linear: string; storage: string; count: number; bytes: number }

interface Summary {
  source?: string;
  scheme?: string;
  layers?: { node: string; scheme: string; reason?: string }[];
  accuracy?: {
    tokens: number; text: string; ppl_float: number; ppl_quant: number; ppl_change_pct: number; top1_agreement_pct: number;
    mean_kl: number; worst_layers: { name: string; rel_error: number }[]; budget: { ppl_change_pct: number; top1_agreement_pct: number };
    passed: boolean; seconds?: number;   // absent since builds are reproducible (printed by the build instead)
  };
}

/** Linear and linear_q nodes grouped by name over layers, with their weight storage and bytes. */
export function linearRows(plan: Plan): LinearRow[] {
  const rows = new Map<string, LinearRow>();
  for (const n of plan.nodes) {
    if (n.op !== 'linear' && n.op !== 'linear_q') continue;
    const ws = n.inputs.filter((id) => id >= 0).map((id) => plan.values[id]).filter((v) => v.kind === 'weight');
    const w = ws[0];
    if (w?.kind !== 'weight') continue;
    const storage = n.op === 'linear' ? w.dtype : `${w.dtype} g${n.attrs.group_size}${ws.some((v) => v.name.endsWith('.offsets')) ? ' +offsets' : ''}${ws.some((v) => v.name.endsWith('.perm')) ? ' +perm' : ''}`;
    const key = `${n.name.replace(/^l\d+\./, 'l*.')}|${storage}`;
    const r = rows.get(key) ?? { linear: n.name.replace(/^l\d+\./, 'l*.'), storage, count: 0, bytes: 0 };
    r.count++;
    r.bytes += ws.reduce((t, v) => t + (v.kind === 'weight' ? v.nbytes : 0), 0);
    rows.set(key, r);
  }
  return [...rows.values()];
}

export function quantizationRows(q: Summary | undefined, plan: Plan): [string, string][] {
  if (!q) return [];
  const out: [string, string][] = [['scheme', `${q.scheme ?? '?'} (${q.source === 'checkpoint' ? 'repacked from the checkpoint' : 'round-to-nearest at build'})`]];
  for (const r of linearRows(plan)) out.push([r.linear, `${r.storage}, ${r.count} node${r.count === 1 ? '' : 's'}, ${formatBytes(r.bytes)}`]);
  for (const l of q.layers ?? []) if (l.reason) out.push([`  ${l.node}`, `${l.scheme}: ${l.reason}`]);
  const a = q.accuracy;
  if (a) {
    out.push(['accuracy', `perplexity ${a.ppl_float.toFixed(3)} -> ${a.ppl_quant.toFixed(3)} (${a.ppl_change_pct >= 0 ? '+' : ''}${a.ppl_change_pct.toFixed(2)}%, budget +${a.budget.ppl_change_pct}%)`]);
    out.push(['', `top-1 agreement ${a.top1_agreement_pct.toFixed(1)}% (budget ${a.budget.top1_agreement_pct}%), mean KL ${a.mean_kl.toExponential(2)}`]);
    out.push(['', `moved most: ${a.worst_layers.map((l) => `${l.name} ${(l.rel_error * 100).toFixed(2)}%`).join(', ')}`]);
    out.push(['', `measured on ${a.tokens} tokens of ${a.text}${a.seconds !== undefined ? ` in ${a.seconds.toFixed(1)} s` : ''}: ${a.passed ? 'passed' : 'FAILED'}`]);
  } else if (q.source !== 'checkpoint') {
    out.push(['accuracy', 'not measured (built with --no-accuracy-gate)']);
  }
  return out;
}
