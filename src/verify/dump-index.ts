// Reading an activation dump (llmc run --dump-dir, LLMC_DUMP_DIR, scripts/hf-dump.py): DIR/index.tsv with the
// columns step, op, value, rows, width, file, and raw little-endian f32 [rows, width] files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlmcError } from '../errors.js';

export interface DumpEntry { step: number; op: string; value: string; rows: number; width: number; file: string }

export function readDumpIndex(dir: string, what: string): DumpEntry[] {
  const path = join(dir, 'index.tsv');
  if (!existsSync(path)) throw new LlmcError('NOT_FOUND', `${what} ${dir} has no index.tsv`, 'write it with `llmc run ENGINE --dump-dir DIR` or scripts/hf-dump.py');
  const [header, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  if (!header || header.split('\t').slice(0, 6).join(',') !== 'step,op,value,rows,width,file') {
    throw new LlmcError('BAD_ARGUMENT', `${path} does not start with the header step, op, value, rows, width, file`);
  }
  return rows.filter((l) => l !== '').map((l, i) => {
    const [step, op, value, r, w, file] = l.split('\t');
    const e = { step: Number(step), op, value, rows: Number(r), width: Number(w), file };
    if (!Number.isInteger(e.step) || !Number.isInteger(e.rows) || !Number.isInteger(e.width) || !value || !file) {
      throw new LlmcError('BAD_ARGUMENT', `${path} line ${i + 2} is not step, op, value, rows, width, file`);
    }
    return e;
  });
}

export function readDumpValue(dir: string, e: DumpEntry): Float32Array {
  const path = join(dir, e.file);
  if (!existsSync(path)) throw new LlmcError('NOT_FOUND', `dump file ${path} (listed in index.tsv) is missing`);
  const buf = readFileSync(path);
  if (buf.byteLength !== e.rows * e.width * 4) {
    throw new LlmcError('BAD_ARGUMENT', `dump file ${path} has ${buf.byteLength} bytes; index.tsv says [${e.rows}, ${e.width}] f32 (${e.rows * e.width * 4})`);
  }
  const out = new Float32Array(e.rows * e.width);
  out.set(new Float32Array(buf.buffer, buf.byteOffset, out.length));
  return out;
}
