// Where a weight's bytes come from: a small expression over checkpoint tensors, evaluated by the engine writer
// one weight at a time (engine/weight-data.ts). Transforms are pure and shape-checked here, at build time, so
// fixed rewrites (fused QKV reordering, Conv1D transposes) happen once when the engine is written, not in the graph.
//
//   tensor("name")            a checkpoint tensor as stored
//   transpose(src)            2-D transpose: [a, b] -> [b, a]
//   concat(src, src, ...)     along dim 0 (rows); trailing dims must agree
//   rows(src, start, count)   rows [start, start+count) along dim 0
//   const(v0, v1, ...)        1-D f32 constants computed at build time (rope inv_freq, alibi slopes)
//   dummy(kind, std|value, [shape], seed S)   no bytes: generated at load (llmc build --dummy-weights,
//                             src/compiler/dummy/); S is the build's seed, mixed with the weight name in the plan
//   quantize(scheme, gG, sym|asym, part, src)   round-to-nearest quantization of a float [out, in] source
//                             (src/compiler/quant/rtn.ts); part codes [out, in] | scales | offsets [out, in/G]
//   scale_cols(src, v0, ...)  column i multiplied by v_i (AWQ activation-aware scaling before quantization)
//   packed(part, gG, src)     a pre-quantized checkpoint's linear (src/compiler/quant/packed*.ts) in llmc's
//                             layout; src reads virtual `<module>.weight` tensors (tensor, rows, concat);
//                             part codes | scales | offsets, or perm [in] (GPTQ act-order)
import { fail } from '../../errors.js';
import { formatNumber } from './format-number.js';

export type WeightSource =
  | { op: 'tensor'; name: string }
  | { op: 'transpose'; src: WeightSource }
  | { op: 'concat'; srcs: WeightSource[] }
  | { op: 'rows'; src: WeightSource; start: number; count: number }
  | { op: 'const'; values: number[] }
  | { op: 'dummy'; shape: number[]; init: DummyInit; seed: number }
  | { op: 'quantize'; scheme: QuantScheme; part: QuantPart; src: WeightSource }
  | { op: 'scale_cols'; src: WeightSource; values: number[] }
  | { op: 'packed'; part: QuantPart | 'perm'; groupSize: number; src: WeightSource };

/** A round-to-nearest scheme (llmc build --quantize). */
export interface QuantScheme { kind: 'int8' | 'int4' | 'fp8'; groupSize: number; symmetric: boolean }
export type QuantPart = 'codes' | 'scales' | 'offsets';

/** How a dummy weight's values are generated (docs/engine-format.md "Dummy weights"). */
export type DummyInit =
  | { kind: 'normal'; std: number }      // N(0, std)
  | { kind: 'ones'; std: number }        // 1 + N(0, std): norm gains
  | { kind: 'const'; value: number };

export const tensor = (name: string): WeightSource => ({ op: 'tensor', name });
export const transpose = (src: WeightSource): WeightSource => ({ op: 'transpose', src });
export const concat = (...srcs: WeightSource[]): WeightSource => ({ op: 'concat', srcs });
export const rows = (src: WeightSource, start: number, count: number): WeightSource => ({ op: 'rows', src, start, count });
export const constant = (values: number[]): WeightSource => ({ op: 'const', values: values.map(Math.fround) });
export const dummy = (shape: number[], init: DummyInit, seed: number): WeightSource => ({ op: 'dummy', shape: [...shape], init, seed });
export const quantize = (scheme: QuantScheme, part: QuantPart, src: WeightSource): WeightSource => ({ op: 'quantize', scheme: { ...scheme }, part, src });
export const scaleCols = (src: WeightSource, values: ArrayLike<number>): WeightSource => ({ op: 'scale_cols', src, values: Array.from(values, Math.fround) });
export const packed = (part: QuantPart | 'perm', groupSize: number, src: WeightSource): WeightSource => ({ op: 'packed', part, groupSize, src });

/** Names of the checkpoint tensors an expression reads. */
export function sourceTensors(s: WeightSource, out: string[] = []): string[] {
  switch (s.op) {
    case 'tensor': out.push(s.name); break;
    case 'transpose': case 'rows': case 'quantize': case 'packed': case 'scale_cols': sourceTensors(s.src, out); break;
    case 'concat': for (const x of s.srcs) sourceTensors(x, out); break;
    case 'const': case 'dummy': break;
  }
  return out;
}

/**
 * Shape of an expression given the checkpoint's tensor shapes. Throws BAD_CHECKPOINT naming the tensor when a
 * transform does not fit the stored shape (the family's mapping assumed another layout).
 */
export function sourceShape(s: WeightSource, shapeOf: (name: string) => readonly number[]): number[] {
  switch (s.op) {
    case 'tensor': return [...shapeOf(s.name)];
    case 'const': return [s.values.length];
    case 'dummy': return [...s.shape];
    case 'transpose': {
      const sh = sourceShape(s.src, shapeOf);
      if (sh.length !== 2) fail('BAD_CHECKPOINT', `cannot transpose ${formatSource(s.src)}: shape [${sh}] is not 2-D`);
      return [sh[1], sh[0]];
    }
    case 'rows': {
      const sh = sourceShape(s.src, shapeOf);
      if (sh.length < 1 || s.start < 0 || s.count < 0 || s.start + s.count > sh[0]) {
        fail('BAD_CHECKPOINT', `rows ${s.start}..${s.start + s.count} are outside ${formatSource(s.src)} of shape [${sh}]`);
      }
      return [s.count, ...sh.slice(1)];
    }
    case 'scale_cols': {
      const sh = sourceShape(s.src, shapeOf);
      if (sh.length !== 2 || sh[1] !== s.values.length) fail('BAD_CHECKPOINT', `scale_cols: [${sh}] does not have ${s.values.length} columns`);
      return sh;
    }
    case 'quantize': case 'packed': {
      const sh = sourceShape(s.src, shapeOf);
      const g = s.op === 'quantize' ? s.scheme.groupSize : s.groupSize;
      if (sh.length !== 2 || g <= 0 || sh[1] % g !== 0) fail('BAD_CHECKPOINT', `${formatSource(s)}: [${sh}] is not a 2-D [out, in] weight with in divisible by ${g}`);
      if (s.part === 'perm') return [sh[1]];
      return s.part === 'codes' ? sh : [sh[0], sh[1] / g];
    }
    case 'concat': {
      if (s.srcs.length === 0) throw new Error('concat() of nothing');
      const shapes = s.srcs.map((x) => sourceShape(x, shapeOf));
      const tail = shapes[0].slice(1).join(',');
      for (let i = 1; i < shapes.length; i++) {
        if (shapes[i].length !== shapes[0].length || shapes[i].slice(1).join(',') !== tail) {
          fail('BAD_CHECKPOINT', `cannot concatenate ${formatSource(s.srcs[0])} [${shapes[0]}] and ${formatSource(s.srcs[i])} [${shapes[i]}]`);
        }
      }
      return [shapes.reduce((a, sh) => a + sh[0], 0), ...shapes[0].slice(1)];
    }
  }
}

export function formatSource(s: WeightSource): string {
  switch (s.op) {
    case 'tensor': return `tensor(${JSON.stringify(s.name)})`;
    case 'transpose': return `transpose(${formatSource(s.src)})`;
    case 'concat': return `concat(${s.srcs.map(formatSource).join(', ')})`;
    case 'rows': return `rows(${formatSource(s.src)}, ${s.start}, ${s.count})`;
    case 'const': return `const(${s.values.map(formatNumber).join(', ')})`;
    case 'dummy': {
      const param = s.init.kind === 'const' ? formatNumber(s.init.value) : formatNumber(s.init.std);
      return `dummy(${s.init.kind}, ${param}, [${s.shape.join(',')}], seed ${s.seed})`;
    }
    case 'quantize':
      return `quantize(${s.scheme.kind}, g${s.scheme.groupSize}, ${s.scheme.symmetric ? 'sym' : 'asym'}, ${s.part}, ${formatSource(s.src)})`;
    case 'packed':
      return `packed(${s.part}, g${s.groupSize}, ${formatSource(s.src)})`;
    case 'scale_cols':
      return `scale_cols(${formatSource(s.src)}, ${s.values.map(formatNumber).join(', ')})`;
  }
}
