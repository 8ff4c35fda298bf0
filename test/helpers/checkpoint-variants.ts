// Checkpoint variants for the family tests: a copy of a golden fixture's checkpoint with its tensors renamed
// (e.g. the base-model prefix stripped, as many Hub repos store them), extra tensors added (non-weight buffers HF
// ignores) and config.json edited. The safetensors file is written from scratch by a small writer that follows
// the reference layout rules (header padded with spaces to a multiple of 8, tensors sorted by dtype size then
// name), so the variant is a well-formed checkpoint, not a patched one.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StTensor {
  dtype: 'F32' | 'F16' | 'BF16' | 'I64' | 'U8' | 'BOOL';
  shape: number[];
  data: Buffer;
}

const DTYPE_BYTES: Record<StTensor['dtype'], number> = { F32: 4, F16: 2, BF16: 2, I64: 8, U8: 1, BOOL: 1 };

/** The tensors of one safetensors file, by name. */
export function readSafetensors(path: string): Map<string, StTensor> {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: StTensor['dtype']; shape: number[]; data_offsets: [number, number] }>;
  const data = b.subarray(8 + n);
  const out = new Map<string, StTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: t.dtype, shape: t.shape, data: Buffer.from(data.subarray(t.data_offsets[0], t.data_offsets[1])) });
  }
  return out;
}

/** Writes a safetensors file: tensors sorted by element size (largest first) then name, header space-padded. */
export function writeSafetensors(path: string, tensors: ReadonlyMap<string, StTensor>): void {
  const names = [...tensors.keys()].sort((a, b) =>
    DTYPE_BYTES[tensors.get(b)!.dtype] - DTYPE_BYTES[tensors.get(a)!.dtype] || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const expected = t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.length !== expected) throw new Error(`${name}: ${t.data.length} bytes for shape [${t.shape}] ${t.dtype}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), ...names.map((n) => tensors.get(n)!.data)]));
}

export interface Variant {
  /** New name for a tensor (return the name unchanged to keep it). */
  rename?: (name: string) => string;
  /** Tensors to add or replace (named as in the variant, i.e. after renaming). */
  add?: Record<string, StTensor>;
  /** Tensors to leave out (variant names). */
  drop?: string[];
  /** Edits config.json in place. */
  config?: (c: Record<string, unknown>) => void;
}

/** Writes `variant` of the single-file checkpoint in `srcDir` to `dstDir` (created). */
export function writeVariant(srcDir: string, dstDir: string, variant: Variant): string {
  mkdirSync(dstDir, { recursive: true });
  const src = readSafetensors(join(srcDir, 'model.safetensors'));
  const out = new Map<string, StTensor>();
  for (const [name, t] of src) {
    const to = variant.rename ? variant.rename(name) : name;
    if (out.has(to)) throw new Error(`variant renames two tensors to ${to}`);
    out.set(to, t);
  }
  for (const [name, t] of Object.entries(variant.add ?? {})) out.set(name, t);
  for (const name of variant.drop ?? []) out.delete(name);
  writeSafetensors(join(dstDir, 'model.safetensors'), out);
  const config = JSON.parse(readFileSync(join(srcDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  variant.config?.(config);
  writeFileSync(join(dstDir, 'config.json'), JSON.stringify(config, null, 2));
  for (const f of ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    if (existsSync(join(srcDir, f))) copyFileSync(join(srcDir, f), join(dstDir, f));
  }
  return dstDir;
}

/** Non-weight buffers of the kinds older transformers versions saved (values are irrelevant: HF ignores them). */
export function buffer(shape: number[], dtype: StTensor['dtype'] = 'F32'): StTensor {
  return { dtype, shape, data: Buffer.alloc(shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[dtype]) };
}
