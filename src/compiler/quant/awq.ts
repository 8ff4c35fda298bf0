// Activation-aware weight quantization (AWQ; Lin et al., "AWQ: Activation-aware Weight Quantization for LLM
// Compression and Acceleration", MLSys 2024, arXiv:2306.00978), for llmc build --quantize int4 --calib FILE.
//
// The few input channels that carry large activations matter most; scaling those weight columns up by s before
// rounding (and the input down by 1/s at run time, linear_q's input_scale) shrinks their relative rounding error.
// Per input activation X (shared by the linears that read it, e.g. q/k/v after attn_norm):
//   s_x[i]  = mean over calibration tokens of |X[:, i]|
//   s(a)    = s_x^a / sqrt(max(s_x^a) * min(s_x^a)),   a in {0, 0.1, ..., 1}
//   err(a)  = sum over those linears of || X W^T - (X / s) Q(W diag(s))^T ||^2   (Q: the build's RTN scheme)
// and the a with the least error is kept (a = 0 is plain round-to-nearest, so the search never does worse on the
// calibration rows). The activations come from the float twin of the build, run on the calibration text with
// activation dumps. The search runs in TypeScript: seconds for models of a few million parameters, and it grows
// with rows x in x out per linear, so it is meant for small models (docs/quantization.md says how it scales).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph, Node } from '../ir/graph.js';
import type { WeightData } from '../engine/weight-data.js';
import { Engine } from '../../runtime/engine.js';
import { linearScheme, type QuantizeOptions } from '../../passes/quantize.js';
import { dequantizeRows, quantizeRows } from './rtn.js';

export const AWQ_ALPHAS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
const MAX_ROWS = 64;                 // calibration rows per activation used by the search

export interface AwqChoice { activation: string; alpha: number; rtnError: number; awqError: number; linears: string[] }

/** Rows [n, width] of each named activation on the calibration windows (float engine, activation dumps). */
export async function collectActivations(engineDir: string, windows: number[][], names: ReadonlySet<string>): Promise<Map<string, { rows: number; data: Float32Array }>> {
  const dumpDir = mkdtempSync(join(tmpdir(), 'llmc-awq-'));
  const prev = process.env.LLMC_DUMP_DIR;
  process.env.LLMC_DUMP_DIR = dumpDir;
  let engine: Engine;
  try {
    engine = await Engine.load(engineDir, { backend: 'cpu' });
  } finally {
    if (prev === undefined) delete process.env.LLMC_DUMP_DIR;
    else process.env.LLMC_DUMP_DIR = prev;
  }
  try {
    for (const w of windows) await engine.generate(w, { maxNewTokens: 1, ignoreEos: true, logitsPath: join(dumpDir, 'logits.f32') });
  } finally {
    engine.close();
  }
  const parts = new Map<string, Float32Array[]>();
  const widths = new Map<string, number>();
  for (const line of readFileSync(join(dumpDir, 'index.tsv'), 'utf8').trim().split('\n').slice(1)) {
    const [, , value, , width, file] = line.split('\t');
    if (!names.has(value)) continue;
    const b = readFileSync(join(dumpDir, file));
    parts.set(value, [...(parts.get(value) ?? []), new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))]);
    widths.set(value, Number(width));
  }
  rmSync(dumpDir, { recursive: true, force: true });
  const out = new Map<string, { rows: number; data: Float32Array }>();
  for (const [name, chunks] of parts) {
    const data = new Float32Array(chunks.reduce((t, c) => t + c.length, 0));
    let at = 0;
    for (const c of chunks) { data.set(c, at); at += c.length; }
    out.set(name, { rows: data.length / widths.get(name)!, data });
  }
  return out;
}

/** Evenly spaced rows of X [n, width], at most `max`. */
function sampleRows(x: Float32Array, n: number, width: number, max: number): { rows: number; data: Float32Array } {
  if (n <= max) return { rows: n, data: x };
  const data = new Float32Array(max * width);
  for (let r = 0; r < max; r++) data.set(x.subarray(Math.floor((r * n) / max) * width, (Math.floor((r * n) / max) + 1) * width), r * width);
  return { rows: max, data };
}

/** y[n, out] = x[n, in] . w[out, in]^T */
function matmulT(x: Float32Array, n: number, w: Float32Array, out: number, inF: number): Float64Array {
  const y = new Float64Array(n * out);
  for (let t = 0; t < n; t++) {
    const xo = t * inF;
    for (let o = 0; o < out; o++) {
      const wo = o * inF;
      let s = 0;
      for (let i = 0; i < inF; i++) s += x[xo + i] * w[wo + i];
      y[t * out + o] = s;
    }
  }
  return y;
}

/**
 * The AWQ column scales of every input activation whose linears the build quantizes: activation name -> s [in].
 * Activations whose best alpha is 0 are left out (plain round-to-nearest).
 */
export function searchAwqScales(graph: Graph, opts: QuantizeOptions, acts: ReadonlyMap<string, { rows: number; data: Float32Array }>, data: WeightData,
  choices: AwqChoice[] = []): Map<string, Float32Array> {
  // Linears by input activation, with the scheme the quantize pass will give each.
  const groups = new Map<string, { node: Node; scheme: ReturnType<typeof linearScheme> }[]>();
  for (const n of graph.nodes) {
    if (n.op !== 'linear') continue;
    const wt = graph.weights.get((n.inputs[1] as { name: string }).name)!;
    const plan = linearScheme(n, wt, opts);
    if ('float' in plan) continue;
    const act = graph.acts.get((n.inputs[0] as { id: number }).id)!.name;
    groups.set(act, [...(groups.get(act) ?? []), { node: n, scheme: plan }]);
  }
  const out = new Map<string, Float32Array>();
  for (const [act, linears] of groups) {
    const stats = acts.get(act);
    if (!stats) continue;
    const inF = stats.data.length / stats.rows;
    const { rows: n, data: x } = sampleRows(stats.data, stats.rows, inF, MAX_ROWS);
    const sx = new Float64Array(inF);
    for (let t = 0; t < stats.rows; t++) for (let i = 0; i < inF; i++) sx[i] += Math.abs(stats.data[t * inF + i]);
    for (let i = 0; i < inF; i++) sx[i] = Math.max(sx[i] / stats.rows, 1e-8);
    const ws = linears.map(({ node, scheme }) => {
      const wt = graph.weights.get((node.inputs[1] as { name: string }).name)!;
      const w = data.rows(wt.source, 0, wt.shape[0]);
      return { w, out: wt.shape[0], scheme: 'scheme' in scheme ? scheme.scheme : null!, ref: matmulT(x, n, w, wt.shape[0], inF) };
    });
    let best = { alpha: 0, err: Infinity, s: new Float32Array(inF).fill(1) };
    let rtnErr = Infinity;
    for (const alpha of AWQ_ALPHAS) {
      const s = new Float32Array(inF);
      let mx = 0, mn = Infinity;
      for (let i = 0; i < inF; i++) {
        s[i] = sx[i] ** alpha;
        mx = Math.max(mx, s[i]);
        mn = Math.min(mn, s[i]);
      }
      const norm = Math.sqrt(mx * mn);
      for (let i = 0; i < inF; i++) s[i] = Math.fround(s[i] / norm);
      const xs = Float32Array.from(x, (v, k) => v / s[k % inF]);
      let err = 0;
      for (const { w, out: outF, scheme, ref } of ws) {
        const scaled = Float32Array.from(w, (v, k) => Math.fround(v * s[k % inF]));
        const deq = dequantizeRows(quantizeRows(scaled, inF, scheme), inF, scheme.groupSize);
        const y = matmulT(xs, n, deq, outF, inF);
        for (let k = 0; k < y.length; k++) err += (y[k] - ref[k]) ** 2;
      }
      if (alpha === 0) rtnErr = err;
      if (err < best.err) best = { alpha, err, s };
    }
    choices.push({ activation: act, alpha: best.alpha, rtnError: rtnErr, awqError: best.err, linears: linears.map((l) => l.node.name) });
    if (best.alpha > 0) out.set(act, best.s);
  }
  return out;
}
