// Load-time integrity of rank0.engine (docs/hardening.md): sizes, headers and the plan's agreement with
// config.json are checked on every load, so a truncated, extended or swapped file, or a plan whose offsets or
// indices point outside what exists, is one error line naming the file, never a SIGBUS or a silent wrong run.
import { appendFileSync, copyFileSync, cpSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectCleanError, goldenDir, llmc, tempDir } from '../helpers/cli.js';

const work = tempDir('llmc-integrity-');
const engine = join(work, 'llama');
const other = join(work, 'gpt2');
const run = (dir: string) => llmc(['run', dir, '--token-ids', '1,2,3', '--max-new-tokens', '2']);

beforeAll(() => {
  expect(llmc(['build', join(goldenDir, 'llama', 'model'), '-o', engine]).code).toBe(0);
  expect(llmc(['build', join(goldenDir, 'gpt2', 'model'), '-o', other]).code).toBe(0);
});

function damaged(name: string, damage: (file: string, dir: string) => void): string {
  const dir = join(work, name);
  cpSync(engine, dir, { recursive: true });
  // Builds record every file's size (integrity.files), which the loader checks first; these cases test the
  // structural checks behind it, so the copy drops the record (the recorded-size check has its own tests below).
  const m = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  delete m.integrity;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(m, null, 2));
  damage(join(dir, 'rank0.engine'), dir);
  return dir;
}

/** Rewrites the plan JSON inside rank0.engine (re-framed so only the edit is wrong). */
function editPlan(file: string, edit: (plan: any) => void): void {
  const b = readFileSync(file);
  const p = Number(b.readBigUInt64LE(16));
  const d = Number(b.readBigUInt64LE(24));
  const plan = JSON.parse(b.subarray(40, 40 + p).toString('utf8'));
  edit(plan);
  const text = Buffer.from(JSON.stringify(plan));
  if (40 + text.length > d) throw new Error('edited plan does not fit');
  const out = Buffer.from(b);
  out.fill(0x20, 40, d);
  text.copy(out, 40);
  out.writeBigUInt64LE(BigInt(text.length), 16);
  writeFileSync(file, out);
}

test('the engine as built loads', () => {
  expect(run(engine).code).toBe(0);
});

test.each([
  ['truncated inside the data section', (f: string) => truncateSync(f, statSync(f).size - 1), /rank0\.engine is truncated or corrupt: data section .* runs past the end/],
  ['truncated inside the header', (f: string) => truncateSync(f, 17), /rank0\.engine is truncated: 17 bytes, shorter than its 40-byte header/],
  ['cut to the plan', (f: string) => truncateSync(f, 100), /rank0\.engine is truncated or corrupt: plan of \d+ bytes runs past the end/],
  ['extended', (f: string) => appendFileSync(f, Buffer.alloc(64)), /rank0\.engine is corrupt: 64 bytes follow its data section/],
  ['swapped with another engine\'s', (f: string) => copyFileSync(join(other, 'rank0.engine'), f), /rank0\.engine does not belong to this engine: its plan has model\.num_kv_heads 4, config\.json says 2/],
  ['a weight offset past the data section', (f: string) => editPlan(f, (plan) => { plan.values.find((v: any) => v.kind === 'weight').offset = 2 ** 40; }), /rank0\.engine plan: weight \d+ .*: bytes \[1099511627776, .* lie outside the data section/],
  ['a node input that is no value', (f: string) => editPlan(f, (plan) => { plan.nodes[3].inputs[0] = plan.values.length + 5; }), /rank0\.engine plan: nodes\[3\] .*value id \d+ does not exist/],
  ['a token arena range past the token arena', (f: string) => editPlan(f, (plan) => { plan.values.find((v: any) => v.rows === 'tokens').arena_offset = 2 ** 40; }), /token arena floats \[1099511627776, \d+\) beyond arena\.floats_per_token/],
  ['a logits arena range past the logits arena', (f: string) => editPlan(f, (plan) => { plan.values.find((v: any) => v.rows === 'logit_rows').arena_offset = 2 ** 40; }), /logits arena floats \[1099511627776, \d+\) beyond arena\.logit_floats_per_row/],
  ['logits sharing logits arena floats with the rows they are computed from', (f: string) => editPlan(f, (plan) => {
    const logits = plan.values[plan.outputs.logits];
    const head = plan.nodes.find((n: any) => n.outputs.includes(logits.id));
    plan.values[head.inputs[0]].arena_offset = logits.arena_offset;   // the LM head's input is live while it writes logits
  }), /share logits arena floats while both are live/],
  ['no limits.max_logit_rows', (f: string) => editPlan(f, (plan) => { delete plan.limits.max_logit_rows; }), /limits: missing "max_logit_rows"/],
  ['a limits.max_logit_rows above max_num_tokens', (f: string) => editPlan(f, (plan) => { plan.limits.max_logit_rows = plan.limits.max_num_tokens + 1; }), /limits\.max_logit_rows: \d+ is outside \[\d+, \d+\]/],
  ['no arena.logit_floats_per_row', (f: string) => editPlan(f, (plan) => { delete plan.arena.logit_floats_per_row; }), /arena: missing "logit_floats_per_row"/],
  ['logits pointing at a weight', (f: string) => editPlan(f, (plan) => { plan.outputs.logits = 0; }), /outputs\.logits .* must be an activation/],
])('rank0.engine %s: one line naming the file', (name, damage, pattern) => {
  expectCleanError(run(damaged(name.replace(/\W+/g, '-'), damage)), pattern);
});

test('a truncated copy of an engine as built (sizes recorded): the recorded size names it first', () => {
  const dir = join(work, 'as-built-truncated');
  cpSync(engine, dir, { recursive: true });
  truncateSync(join(dir, 'rank0.engine'), 4096);
  expectCleanError(run(dir), /rank0\.engine is 4096 bytes but config\.json records \d+ \(integrity\.files\): it is truncated/);
});

test('a size recorded in config.json (integrity.files, written by builds with integrity) is checked before anything is read', () => {
  const dir = damaged('recorded-size', (f, d) => {
    const m = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    m.integrity = { algorithm: 'sha256', files: { 'rank0.engine': { bytes: statSync(f).size + 4096, sha256: '0'.repeat(64) } } };
    writeFileSync(join(d, 'config.json'), JSON.stringify(m, null, 2));
  });
  expectCleanError(run(dir), /rank0\.engine is \d+ bytes but config\.json records \d+ \(integrity\.files\): it is truncated, or was swapped in from another engine/);
});
