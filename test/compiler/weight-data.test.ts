// Weight sources evaluated by the engine writer: transpose / rows / concat / const over checkpoint tensors of
// every dtype, block by block (a tiny block size forces every block edge), and dtype conversion on the way out.
import { join } from 'node:path';
import { readSafetensorsHeader, TensorReader } from '../../src/compiler/hf/safetensors.js';
import { WeightData } from '../../src/compiler/engine/weight-data.js';
import { decodeToF32, encodeFromF32 } from '../../src/compiler/engine/convert.js';
import { concat, constant, rows, tensor, transpose, type WeightSource } from '../../src/compiler/ir/weight-source.js';
import type { WeightDType } from '../../src/compiler/ir/graph.js';
import { cleanupTemps, expectOneLine, llmcError, tempDir, writeSt } from './helpers.js';

afterAll(cleanupTemps);

// A [5,3] f32, B [4,3] bf16, C [3,5] f16, values exactly representable in all three dtypes.
const A = Array.from({ length: 15 }, (_, i) => i + 0.5);
const B = Array.from({ length: 12 }, (_, i) => -i * 0.25);
const C = Array.from({ length: 15 }, (_, i) => 100 + i);

let data: WeightData;
let reader: TensorReader;
beforeAll(() => {
  const path = join(tempDir(), 'w.safetensors');
  const a = encodeFromF32(Float32Array.from(A), 'f32');
  const b = encodeFromF32(Float32Array.from(B), 'bf16');
  const c = encodeFromF32(Float32Array.from(C), 'f16');
  writeSt(path, {
    header: {
      A: { dtype: 'F32', shape: [5, 3], data_offsets: [0, 60] },
      B: { dtype: 'BF16', shape: [4, 3], data_offsets: [60, 84] },
      C: { dtype: 'F16', shape: [3, 5], data_offsets: [84, 114] },
    },
    data: Buffer.concat([a, b, c]),
  });
  reader = new TensorReader();
  data = new WeightData(readSafetensorsHeader(path).tensors, reader, 4);
});
afterAll(() => reader.close());

function evaluate(src: WeightSource, dtype: WeightDType = 'f32'): number[] {
  const shape = data.shape(src);
  const parts: Buffer[] = [];
  data.stream({ name: 'w', dtype, shape, source: src }, (b) => parts.push(Buffer.from(b)));
  return Array.from(decodeToF32(Buffer.concat(parts), dtype));
}

// Reference: plain row-major math.
const T = (m: number[], r: number, c: number) => Array.from({ length: r * c }, (_, i) => m[(i % r) * c + Math.floor(i / r)]);

describe('weight sources', () => {
  test('tensor, any stored dtype', () => {
    expect(evaluate(tensor('A'))).toEqual(A);
    expect(evaluate(tensor('B'))).toEqual(B);
    expect(evaluate(tensor('C'))).toEqual(C);
  });

  test('transpose', () => {
    expect(data.shape(transpose(tensor('C')))).toEqual([5, 3]);
    expect(evaluate(transpose(tensor('C')))).toEqual(T(C, 3, 5));
    expect(evaluate(transpose(transpose(tensor('A'))))).toEqual(A);
  });

  test('rows and concat across blocks', () => {
    expect(evaluate(rows(tensor('A'), 1, 3))).toEqual(A.slice(3, 12));
    const src = concat(tensor('A'), rows(tensor('B'), 1, 2), transpose(tensor('C')));
    expect(data.shape(src)).toEqual([12, 3]);
    expect(evaluate(src)).toEqual([...A, ...B.slice(3, 9), ...T(C, 3, 5)]);
  });

  test('per-head interleave, written with rows + concat (fused qkv reordering)', () => {
    // rows of A as [q0 k0 q1 k1 ...] pairs -> [q0 q1 | k0 k1]
    const src = concat(rows(tensor('A'), 0, 1), rows(tensor('A'), 2, 1), rows(tensor('A'), 1, 1), rows(tensor('A'), 3, 1));
    expect(evaluate(src)).toEqual([...A.slice(0, 3), ...A.slice(6, 9), ...A.slice(3, 6), ...A.slice(9, 12)]);
  });

  test('const, and conversion on output', () => {
    expect(evaluate(constant([1, 0.1, 3]))).toEqual([1, Math.fround(0.1), 3]);
    expect(evaluate(tensor('A'), 'bf16')).toEqual(A);            // representable: exact
    expect(evaluate(concat(tensor('B'), tensor('A')), 'f16')).toEqual([...B, ...A]);
  });

  test('shape errors are BAD_CHECKPOINT naming the source', async () => {
    expectOneLine(await llmcError(() => data.shape(concat(tensor('A'), tensor('C')))), 'BAD_CHECKPOINT', /cannot concatenate tensor\("A"\) \[5,3\] and tensor\("C"\) \[3,5\]/);
    expectOneLine(await llmcError(() => data.shape(rows(tensor('A'), 4, 2))), 'BAD_CHECKPOINT', /rows 4\.\.6 are outside tensor\("A"\) of shape \[5,3\]/);
    expectOneLine(await llmcError(() => data.shape(tensor('Z'))), 'BAD_CHECKPOINT', /tensor Z is missing/);
  });
});
