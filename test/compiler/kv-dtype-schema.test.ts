// schema/kv-cache-dtypes.json is the one place the KV cache dtype table is written: the files generated from it
// (TS, the CPU runtime's header, the CUDA kernels' header) are the ones in the tree, the TS table is the schema's,
// and a schema that breaks the table's rules is refused by the generator with a message naming the dtype.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KV_CACHE_DTYPES, kvBlockBytes, type KvCacheDType } from '../../src/compiler/engine/kv-dtype.js';
import { repoRoot, tempDir } from '../helpers/cli.js';

const schemaPath = join(repoRoot, 'schema', 'kv-cache-dtypes.json');
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));

// Runs the generator on the schema found under `root`; prints {file: text} as JSON, or exits 1 with the error.
function generate(root: string) {
  const script = `import(${JSON.stringify(join(repoRoot, 'scripts', 'gen-kv-dtype.mjs'))})`
    + `.then((m) => process.stdout.write(JSON.stringify(m.kvDTypeOutputs(${JSON.stringify(root)}))))`
    + '.catch((e) => { process.stderr.write(e.message); process.exit(1); });';
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('the generated files in the tree are what the schema generates', () => {
  const r = generate(repoRoot);
  expect(r.code).toBe(0);
  const files: Record<string, string> = JSON.parse(r.out);
  expect(Object.keys(files).sort()).toEqual([
    'native/cuda/kernels/kv_dtype.generated.h', 'native/include/llmc/kv_dtype.generated.h', 'src/compiler/engine/kv-dtype.generated.ts',
  ]);
  for (const [rel, text] of Object.entries(files)) expect(readFileSync(join(repoRoot, rel), 'utf8')).toBe(text);
});

test('the TS table and the block size follow the schema', () => {
  expect(Object.keys(KV_CACHE_DTYPES)).toEqual(schema.values.map((v: { name: string }) => v.name));
  for (const v of schema.values) {
    const info = KV_CACHE_DTYPES[v.name as KvCacheDType];
    expect([info.id, info.plan, info.elemBytes, info.scaled, info.qmax]).toEqual([v.id, v.plan, v.elem_bytes, v.scaled, v.qmax]);
    // 2 kv heads x 16 tokens x head_dim 8: k + v, padded to block_align, then 2 x 32 f32 scales when scaled.
    const data = Math.ceil((2 * 32 * 8 * v.elem_bytes) / schema.block_align) * schema.block_align;
    expect(kvBlockBytes(v.name, 2, 16, 8)).toBe(v.scaled ? data + 2 * 32 * 4 : data);
  }
});

describe('a schema that breaks the rules is refused', () => {
  const cases: [string, (s: typeof schema) => void, RegExp][] = [
    ['ids out of order', (s) => { s.values[2].id = 7; }, /bfloat16: ids must be 0, 1, 2/],
    ['a scaled dtype without qmax', (s) => { delete s.values[3].qmax; }, /int8: a scaled dtype has a qmax/],
    ['an element size of 3 bytes', (s) => { s.values[0].elem_bytes = 3; }, /float32: elem_bytes must be 1, 2 or 4/],
    ['a default that is no dtype', (s) => { s.default = 'float64'; }, /default float64 is not a dtype/],
  ];
  test.each(cases)('%s', (_what, change, message) => {
    const root = tempDir('llmc-kvschema-');
    const bad = structuredClone(schema);
    change(bad);
    mkdirSync(join(root, 'schema'));
    writeFileSync(join(root, 'schema', 'kv-cache-dtypes.json'), JSON.stringify(bad));
    const r = generate(root);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
  });
});
