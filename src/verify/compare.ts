// Compares an engine's activation dump with its reference's, value by value in the optimized plan's execution
// order, over the steps both runs computed from the same inputs. Per value: max abs difference, relative error
// (max abs / max |reference|, worst step), cosine similarity over every element compared, and where the worst
// element is. A fused value is compared slice by slice with the reference values it holds; a tensor-parallel
// rank's value with the columns of the reference value it holds (`worst.col` is then a column of the reference).
import { LlmcError } from '../errors.js';
import { readDumpValue, type DumpEntry } from './dump-index.js';
import type { MappedValue, RefPart } from './value-map.js';

export interface Stats {
  max_abs: number;
  rel_err: number;
  cosine: number;
  worst: { step: number; row: number; col: number; engine: number; reference: number } | null;
  first_bad_step: number | null;
}

export interface ValueReport extends Stats {
  value: string;
  op: string;
  node: string;
  parts: ({ ref: string; col0: number; col1: number; ref_cols?: [number, number][] } & Stats)[] | null;   // fused values: per reference value
  steps: number;                                                             // steps compared (0: no reference)
  ok: boolean;
  ref: string | null;                                                        // the reference value (null: fused, see parts, or none)
  ref_cols?: [number, number][];                                             // a tensor-parallel rank's columns of `ref`
  rank: number;                                                              // the rank that computed it (0: a one-rank engine)
  partial?: boolean;                                                         // a tensor-parallel partial sum: not compared
}

class Acc {
  maxAbs = 0; rel = 0; dot = 0; nx = 0; ny = 0; steps = 0;
  worst: Stats['worst'] = null;
  firstBad: number | null = null;

  /** refCol[k]: the reference column that engine column col0 + k is. */
  add(step: number, x: Float32Array, y: Float32Array, rows: number, width: number, col0: number, col1: number, ywidth: number, tol: number,
    refCol: Int32Array): void {
    let maxAbs = 0, maxRef = 0, at = -1;
    for (let r = 0; r < rows; r++) {
      for (let c = col0; c < col1; c++) {
        const a = x[r * width + c], b = y[r * ywidth + refCol[c - col0]];
        const d = Math.abs(a - b);
        if (!(d <= maxAbs)) { maxAbs = Number.isNaN(d) ? Infinity : d; at = r * width + c; }
        const m = Math.abs(b);
        if (m > maxRef) maxRef = m;
        this.dot += a * b; this.nx += a * a; this.ny += b * b;
      }
    }
    const rel = maxAbs === 0 ? 0 : maxAbs / Math.max(maxRef, 1e-30);
    this.steps++;
    if (rel > tol && this.firstBad === null) this.firstBad = step;
    if (maxAbs > this.maxAbs || this.worst === null) {
      this.maxAbs = Math.max(this.maxAbs, maxAbs);
      if (at >= 0) {
        const row = Math.floor(at / width), col = at % width;
        this.worst = { step, row, col: refCol[col - col0], engine: x[at], reference: y[row * ywidth + refCol[col - col0]] };
      }
    }
    this.rel = Math.max(this.rel, rel);
  }

  stats(): Stats {
    const cos = this.nx === 0 && this.ny === 0 ? 1 : this.dot / (Math.sqrt(this.nx) * Math.sqrt(this.ny) || 1e-300);
    return { max_abs: this.maxAbs, rel_err: this.rel, cosine: cos, worst: this.worst, first_bad_step: this.firstBad };
  }
}

export interface DumpSide { dir: string; entries: DumpEntry[] }

/**
 * steps: the step numbers to compare (both sides fed the same tokens). tol: a value is bad when its relative
 * error passes it at some step.
 */
export function compareDumps(engine: DumpSide, reference: DumpSide, values: MappedValue[], steps: number[], tol: number, rank = 0): ValueReport[] {
  const eng = new Map(engine.entries.map((e) => [`${e.step}/${e.value}`, e]));
  const ref = new Map(reference.entries.map((e) => [`${e.step}/${e.value}`, e]));
  const refCache = new Map<string, Float32Array>();
  const refData = (e: DumpEntry) => {
    const k = `${e.step}/${e.value}`;
    if (!refCache.has(k)) refCache.set(k, readDumpValue(reference.dir, e));
    return refCache.get(k)!;
  };
  const reports: ValueReport[] = [];
  const accMap = new Map<MappedValue, Acc[]>();
  const refColCache = new Map<RefPart, Int32Array>();
  for (const step of steps) {
    refCache.clear();
    for (const v of values) {
      if (!v.parts) continue;
      const e = eng.get(`${step}/${v.name}`);
      const refs = v.parts.map((p) => ref.get(`${step}/${p.ref}`));
      if (!e || refs.some((r) => !r)) continue;
      refs.forEach((r, i) => {
        const p = v.parts![i];
        const want = p.ref_cols ? Math.max(...p.ref_cols.map(([s, c]) => s + c)) : p.col1 - p.col0;
        if (r!.rows !== e.rows || (p.ref_cols ? r!.width < want : r!.width !== want)) {
          throw new LlmcError('BAD_ARGUMENT', `step ${step}, ${p.ref}: the reference has [${r!.rows}, ${r!.width}], the engine ` +
            `[${e.rows}, ${p.col1 - p.col0}]${p.ref_cols ? ` (columns ${JSON.stringify(p.ref_cols)} of it)` : ''}`,
          'the two runs did not see the same steps: same prompts, limits and --max-new-tokens?');
        }
      });
      const x = readDumpValue(engine.dir, e);
      const accs = accsOf(v);
      v.parts.forEach((p, i) => accs[i].add(step, x, refData(refs[i]!), e.rows, e.width, p.col0, p.col1, refs[i]!.width, tol, refColumns(p)));
    }
  }
  for (const v of values) {
    const accs = accMap.get(v);
    if (!accs) {
      reports.push({ value: v.name, op: v.node.op, node: v.node.name, parts: null, ref: null, steps: 0, ok: true, max_abs: 0, rel_err: 0, cosine: 1, worst: null,
        first_bad_step: null, rank, ...(v.partial ? { partial: true } : {}) });
      continue;
    }
    const parts = v.parts!.map((p: RefPart, i) => ({ ...p, ...accs[i].stats() }));
    const worst = parts.reduce((a, b) => (b.rel_err > a.rel_err ? b : a));
    const firstBad = parts.map((p) => p.first_bad_step).filter((s): s is number => s !== null);
    const cosine = Math.min(...parts.map((p) => p.cosine));
    reports.push({
      value: v.name, op: v.node.op, node: v.node.name, parts: v.fused ? parts : null, steps: accs[0].steps,
      ref: v.fused ? null : v.parts![0].ref, ...(!v.fused && v.parts![0].ref_cols ? { ref_cols: v.parts![0].ref_cols } : {}),
      max_abs: Math.max(...parts.map((p) => p.max_abs)), rel_err: worst.rel_err, cosine, worst: worst.worst,
      first_bad_step: firstBad.length ? Math.min(...firstBad) : null, ok: worst.rel_err <= tol, rank,
    });
  }
  return reports;

  function refColumns(p: RefPart): Int32Array {
    const k = refColCache.get(p);
    if (k) return k;
    const idx = new Int32Array(p.col1 - p.col0);
    if (p.ref_cols) {
      let at = 0;
      for (const [s, c] of p.ref_cols) for (let j = 0; j < c; j++) idx[at++] = s + j;
    } else {
      for (let j = 0; j < idx.length; j++) idx[j] = j;
    }
    refColCache.set(p, idx);
    return idx;
  }

  function accsOf(v: MappedValue): Acc[] {
    if (!accMap.has(v)) accMap.set(v, v.parts!.map(() => new Acc()));
    return accMap.get(v)!;
  }
}
