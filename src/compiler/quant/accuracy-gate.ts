// The accuracy gate of a quantized build (docs/quantization.md): the quantized engine and the same build without
// quantization run on calibration text, and the build fails when the loss is past the scheme's budget.
//   perplexity change   exp(mean NLL) of the quantized model vs the float one, on the same windows
//   top-1 agreement     the share of positions whose argmax token is the same
//   mean KL             mean over positions of KL(p_float || p_quant), in nats
//   worst linears       relative error ||y_q - y_f|| / ||y_f|| of each linear's output on one window (activation
//                       dumps), the three largest named
// Cost: two prefills of the calibration tokens (default at most 1024) plus a float build written to a temp
// directory, printed as the gate's seconds; it grows linearly with model size and token count.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { Engine } from '../../runtime/engine.js';

export interface Budget { pplPct: number; top1Pct: number }

export const DEFAULT_BUDGETS: Record<'int8' | 'int4' | 'fp8', Budget> = {
  int8: { pplPct: 1, top1Pct: 99 },
  fp8: { pplPct: 1, top1Pct: 99 },
  int4: { pplPct: 5, top1Pct: 95 },
};

/** "ppl=+1%,top1=99%" (either part may be left out; the scheme's default fills it). */
export function parseBudget(text: string | undefined, def: Budget): Budget {
  const b = { ...def };
  if (text === undefined) return b;
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(ppl|top1)=(\+?)([0-9]*\.?[0-9]+)%$/.exec(part);
    if (!m) fail('BAD_ARGUMENT', `--accuracy-budget: "${part}" is not ppl=+N% or top1=N%`, 'e.g. --accuracy-budget ppl=+1%,top1=99%');
    const v = Number(m[3]);
    if (m[1] === 'ppl') b.pplPct = v;
    else if (v > 100) fail('BAD_ARGUMENT', `--accuracy-budget: top1=${v}% is over 100%`);
    else b.top1Pct = v;
  }
  return b;
}

export interface AccuracyReport {
  tokens: number;                  // scored positions
  windows: number;
  text: string;                    // where the calibration tokens came from
  ppl_float: number;
  ppl_quant: number;
  ppl_change_pct: number;
  top1_agreement_pct: number;
  mean_kl: number;
  worst_layers: { name: string; rel_error: number }[];
  budget: { ppl_change_pct: number; top1_agreement_pct: number };
  passed: boolean;
  seconds: number;
}

export interface GateInput {
  quantDir: string;                // the quantized engine (not yet in place)
  floatDir: string;                // the same build without quantization
  calibTokens: number[];
  textLabel: string;
  ctx: number;
  budget: Budget;
  threads?: number;
}

function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - lse);
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Logits of every position of `window` (prefill rows), [len, vocab]. */
async function windowLogits(engine: Engine, window: number[], scratch: string): Promise<Float32Array> {
  const file = join(scratch, 'logits.f32');
  await engine.generate(window, { maxNewTokens: 1, ignoreEos: true, logitsPath: file });
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Each linear's output on one window, from an activation dump. */
async function linearOutputs(dir: string, window: number[], scratch: string, threads?: number): Promise<Map<string, Float32Array>> {
  const dumpDir = join(scratch, 'dump');
  const prev = process.env.LLMC_DUMP_DIR;
  process.env.LLMC_DUMP_DIR = dumpDir;
  let engine: Engine;
  try {
    engine = await Engine.load(dir, { numThreads: threads, backend: 'cpu' });
  } finally {
    if (prev === undefined) delete process.env.LLMC_DUMP_DIR;
    else process.env.LLMC_DUMP_DIR = prev;
  }
  try {
    await engine.generate(window, { maxNewTokens: 1, ignoreEos: true });
  } finally {
    engine.close();
  }
  const out = new Map<string, Float32Array>();
  const lines = readFileSync(join(dumpDir, 'index.tsv'), 'utf8').trim().split('\n').slice(1);
  for (const line of lines) {
    const [step, op, value, , , file] = line.split('\t');
    if (step !== '0' || (op !== 'linear' && op !== 'linear_q')) continue;
    const b = readFileSync(join(dumpDir, file));
    out.set(value, new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  }
  rmSync(dumpDir, { recursive: true, force: true });
  return out;
}

export async function runAccuracyGate(input: GateInput): Promise<AccuracyReport> {
  const started = performance.now();
  const scratch = mkdtempSync(join(tmpdir(), 'llmc-gate-'));
  try {
    const windows: number[][] = [];
    for (let i = 0; i + 2 <= input.calibTokens.length; i += input.ctx) windows.push(input.calibTokens.slice(i, i + input.ctx));
    if (windows.length === 0) fail('BAD_ARGUMENT', 'the calibration text has fewer than 2 tokens', 'pass a longer --calib file');
    const [fe, qe] = [await Engine.load(input.floatDir, { numThreads: input.threads, backend: 'cpu' }),
      await Engine.load(input.quantDir, { numThreads: input.threads, backend: 'cpu' })];
    let nllF = 0, nllQ = 0, kl = 0, agree = 0, count = 0;
    try {
      for (const w of windows) {
        const lf = await windowLogits(fe, w, scratch);
        const lq = await windowLogits(qe, w, scratch);
        const vocab = lf.length / w.length;
        for (let t = 0; t + 1 < w.length; t++) {
          const rf = lf.subarray(t * vocab, (t + 1) * vocab), rq = lq.subarray(t * vocab, (t + 1) * vocab);
          const pf = logSoftmax(rf), pq = logSoftmax(rq);
          nllF -= pf[w[t + 1]];
          nllQ -= pq[w[t + 1]];
          let k = 0;
          for (let j = 0; j < vocab; j++) k += Math.exp(pf[j]) * (pf[j] - pq[j]);
          kl += Math.max(0, k);
          if (argmax(rf) === argmax(rq)) agree++;
          count++;
        }
      }
    } finally {
      fe.close();
      qe.close();
    }
    // Per-linear output error on the first window (both graphs keep the float graph's value names).
    const [of, oq] = [await linearOutputs(input.floatDir, windows[0], scratch, input.threads), await linearOutputs(input.quantDir, windows[0], scratch, input.threads)];
    const layers: { name: string; rel_error: number }[] = [];
    for (const [name, f] of of) {
      const q = oq.get(name);
      if (!q || q.length !== f.length) continue;
      let num = 0, den = 0;
      for (let i = 0; i < f.length; i++) {
        num += (q[i] - f[i]) ** 2;
        den += f[i] ** 2;
      }
      layers.push({ name, rel_error: Math.sqrt(num / Math.max(den, 1e-30)) });
    }
    layers.sort((a, b) => b.rel_error - a.rel_error);
    const pplF = Math.exp(nllF / count), pplQ = Math.exp(nllQ / count);
    const change = (pplQ / pplF - 1) * 100;
    const top1 = (agree / count) * 100;
    return {
      tokens: count, windows: windows.length, text: input.textLabel,
      ppl_float: pplF, ppl_quant: pplQ, ppl_change_pct: change, top1_agreement_pct: top1, mean_kl: kl / count,
      worst_layers: layers.slice(0, 3),
      budget: { ppl_change_pct: input.budget.pplPct, top1_agreement_pct: input.budget.top1Pct },
      passed: change <= input.budget.pplPct && top1 >= input.budget.top1Pct,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export function accuracyLines(r: AccuracyReport): string[] {
  return [
    `accuracy gate (${r.tokens} tokens of ${r.text}, ${r.seconds.toFixed(1)} s): perplexity ${r.ppl_float.toFixed(3)} -> ${r.ppl_quant.toFixed(3)} ` +
      `(${r.ppl_change_pct >= 0 ? '+' : ''}${r.ppl_change_pct.toFixed(2)}%, budget +${r.budget.ppl_change_pct}%), top-1 agreement ${r.top1_agreement_pct.toFixed(1)}% ` +
      `(budget ${r.budget.top1_agreement_pct}%), mean KL ${r.mean_kl.toExponential(2)}`,
    `  linears that moved most: ${r.worst_layers.map((l) => `${l.name} ${(l.rel_error * 100).toFixed(2)}%`).join(', ') || '(none)'}`,
  ];
}

/** The one-line failure: the figure, its budget, the worst layer and what to try. */
export function gateFailure(r: AccuracyReport, scheme: string): never {
  const worst = r.worst_layers[0];
  const what = r.ppl_change_pct > r.budget.ppl_change_pct
    ? `perplexity +${r.ppl_change_pct.toFixed(2)}% is past the budget +${r.budget.ppl_change_pct}%`
    : `top-1 agreement ${r.top1_agreement_pct.toFixed(1)}% is below the budget ${r.budget.top1_agreement_pct}%`;
  const layer = worst ? `; the linear that moved most is ${worst.name} (relative error ${(worst.rel_error * 100).toFixed(1)}%)` : '';
  const keep = worst ? `, --keep-float '${worst.name.replace(/\./g, '\\.')}'` : '';
  return fail('ACCURACY', `accuracy gate: ${scheme}: ${what}${layer}`,
    `try a smaller --group-size${keep}, int8 instead of int4, or raise --accuracy-budget (--no-accuracy-gate skips the check)`);
}

