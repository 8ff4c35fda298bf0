// The spine's bad-input acceptance list, through the real CLI as a user meets it: each case gives exactly one
// `error:` line naming the problem, a non-zero exit, and no stack trace, crash or hang.
import { cpSync, readFileSync, writeFileSync, rmSync, truncateSync, statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expectCleanError, goldenDir, llmc, tempDir } from '../helpers/cli.js';
import { FORMAT_VERSION } from '../../src/compiler/engine/format.js';

const work = tempDir('llmc-bad-');
const src = join(goldenDir, 'llama', 'model');

/** A copy of the llama fixture's checkpoint that `edit` may damage. */
function checkpoint(name: string, edit: (dir: string) => void): string {
  const dir = join(work, name);
  cpSync(src, dir, { recursive: true });
  edit(dir);
  return dir;
}

interface Header { [name: string]: { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string> }

/** Rewrites model.safetensors with an edited header (the data section is kept as it is). */
function editHeader(dir: string, edit: (h: Header) => void, lengthDelta = 0): void {
  const file = join(dir, 'model.safetensors');
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Header;
  edit(header);
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length + lengthDelta));
  writeFileSync(file, Buffer.concat([len, Buffer.from(text), buf.subarray(8 + n)]));
}

function tensor(h: Header, name: string) {
  return h[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const file = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(file, 'utf8'));
  edit(c);
  writeFileSync(file, JSON.stringify(c));
}

function build(dir: string): ReturnType<typeof llmc> {
  return llmc(['build', dir, '-o', join(work, 'engines', dir.split('/').pop()!)]);
}

describe('llmc build on a bad checkpoint', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a directory that does not exist', () => join(work, 'nope'), /nope/],
    ['no config.json', () => checkpoint('no-config', (d) => rmSync(join(d, 'config.json'))), /config\.json/],
    ['unknown architecture', () => checkpoint('arch', (d) => editConfig(d, (c) => { c.architectures = ['FrobnicatorForCausalLM']; })),
      /FrobnicatorForCausalLM.*LlamaForCausalLM/],
    ['unsupported rope_scaling', () => checkpoint('rope', (d) => editConfig(d, (c) => { c.rope_scaling = { type: 'yarn', factor: 4 }; })),
      /unsupported rope_scaling type.*yarn/],
    ['truncated safetensors', () => checkpoint('trunc', (d) => {
      const f = join(d, 'model.safetensors');
      truncateSync(f, statSync(f).size - 1000);
    }), /model\.safetensors/],
    ['header length beyond the file', () => checkpoint('hlen', (d) => editHeader(d, () => {}, 1 << 30)), /header/],
    ['tensor offsets outside the file', () => checkpoint('offsets', (d) => editHeader(d, (h) => {
      const t = tensor(h, 'model.norm.weight');
      t.data_offsets = [t.data_offsets[0] + 10_000_000, t.data_offsets[1] + 10_000_000];
    })), /model\.norm\.weight/],
    ['offsets not matching shape x dtype', () => checkpoint('shape', (d) => editHeader(d, (h) => {
      tensor(h, 'model.norm.weight').shape = [63];
    })), /model\.norm\.weight/],
    ['a missing tensor', () => checkpoint('missing', (d) => editHeader(d, (h) => { delete h['model.layers.1.mlp.up_proj.weight']; })),
      /model\.layers\.1\.mlp\.up_proj\.weight/],
    ['an unmapped tensor', () => checkpoint('unmapped', (d) => editHeader(d, (h) => {
      h['model.layers.0.mystery.weight'] = { ...tensor(h, 'model.norm.weight') };
    })), /model\.layers\.0\.mystery\.weight/],
    ['a config.json that is not JSON', () => checkpoint('badjson', (d) => writeFileSync(join(d, 'config.json'), '{"architectures": [')),
      /config\.json/],
  ];
  test.each(cases)('%s', (_name, make, pattern) => {
    const r = build(make());
    expectCleanError(r, pattern);
    expect(r.code).toBe(1);
  });
});

describe('llmc run on a bad engine or request', () => {
  const engine = join(work, 'engines', 'good');
  beforeAll(() => {
    const r = llmc(['build', src, '-o', engine, '--max-seq-len', '32']);
    if (r.code !== 0) throw new Error(r.stderr);
  });

  test('an engine of another format version names the rebuild command', () => {
    const old = join(work, 'engines', 'old-format');
    cpSync(engine, old, { recursive: true });
    const m = JSON.parse(readFileSync(join(old, 'config.json'), 'utf8'));
    m.format_version = 0;
    writeFileSync(join(old, 'config.json'), JSON.stringify(m));
    const r = llmc(['run', old, '--token-ids', '1,2,3']);
    expectCleanError(r, new RegExp(`engine format 0.*reads format ${FORMAT_VERSION}.*llmc build .*-o .*old-format`));
  });

  test('an engine built against another op schema is refused', () => {
    const other = join(work, 'engines', 'other-schema');
    cpSync(engine, other, { recursive: true });
    const m = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'));
    m.schema_hash = '0000000000000000';
    writeFileSync(join(other, 'config.json'), JSON.stringify(m));
    expectCleanError(llmc(['run', other, '--token-ids', '1,2,3']), /schema.*llmc build/);
  });

  test('a corrupt rank0.engine (bad magic) is refused', () => {
    const bad = join(work, 'engines', 'bad-magic');
    cpSync(engine, bad, { recursive: true });
    const f = join(bad, 'rank0.engine');
    const b = readFileSync(f);
    b.write('NOTLLMC!', 0, 'latin1');
    writeFileSync(f, b);
    expectCleanError(llmc(['run', bad, '--token-ids', '1,2,3']), /rank0\.engine/);
  });

  test('a directory that is not an engine', () => {
    const empty = join(work, 'empty');
    mkdirSync(empty, { recursive: true });
    expectCleanError(llmc(['run', empty, '--token-ids', '1']), /config\.json.*llmc build/);
  });

  test('a prompt longer than --max-seq-len', () => {
    const ids = Array.from({ length: 40 }, (_, i) => 3 + i).join(',');
    expectCleanError(llmc(['run', engine, '--token-ids', ids, '--max-new-tokens', '4']), /max.seq.len/);
  });

  test('a token id outside the vocabulary', () => {
    expectCleanError(llmc(['run', engine, '--token-ids', '1,100000']), /100000/);
  });
});
