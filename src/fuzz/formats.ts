// Structure-aware mutation of the two binary formats: a safetensors file (u64 header length, JSON header, data)
// and rank0.engine (40-byte header, plan JSON, padding, data). The JSON inside is mutated and the file re-framed
// with consistent lengths most of the time (so the mutation reaches the parser behind the framing), or with
// lengths that lie (so the framing checks themselves are hit).
import { DATA_ALIGN, HEADER_BYTES as ENGINE_HEADER, HEADER_OFFSETS as AT } from '../compiler/engine/format.generated.js';
import { EXTREME_U64, mutateBytes, writeU64 } from './mutate-bytes.js';
import { mutateJsonText } from './mutate-json.js';
import type { Rng } from './rng.js';

function splitSafetensors(b: Buffer): { header: string; data: Buffer } | null {
  if (b.length < 8) return null;
  const n = b.readBigUInt64LE(0);
  if (n > BigInt(b.length - 8)) return null;
  return { header: b.subarray(8, 8 + Number(n)).toString('utf8'), data: b.subarray(8 + Number(n)) };
}

/** Targeted edits of a safetensors header's tensor entries: offsets overlapping or past the end, dtypes, shapes. */
function mutateTensorEntry(rng: Rng, header: string): string | null {
  let doc: Record<string, Record<string, unknown>>;
  try {
    doc = JSON.parse(header) as Record<string, Record<string, unknown>>;
  } catch {
    return null;
  }
  const names = Object.keys(doc).filter((k) => k !== '__metadata__' && typeof doc[k] === 'object' && doc[k] !== null);
  if (names.length === 0) return null;
  const e = doc[rng.pick(names)];
  const other = doc[rng.pick(names)];
  switch (rng.int(6)) {
    case 0: e.data_offsets = other.data_offsets; break;                                   // two tensors share bytes
    case 1: e.data_offsets = [0, rng.pick([2 ** 53, 2 ** 64, 1e300, 4294967296])]; break;  // past the end
    case 2: e.dtype = rng.pick(['F64', 'I8', 'BOOL', 'F8_E4M3', 'U4', 'f32', '', 'BF16', 'F16']); break;
    case 3: e.shape = rng.pick([[], [0], [2 ** 26, 2 ** 26], [-4], [1.5], ['8'], [2 ** 53]]); break;
    case 4: {  // a consistent but different shape (same bytes, other dims)
      const s = e.shape as number[];
      if (Array.isArray(s) && s.length === 2) e.shape = [s[1], s[0]];
      else e.shape = [1, ...(Array.isArray(s) ? s : [])];
      break;
    }
    default: doc[`${rng.pick(names)}.extra`] = { ...e };                                     // a tensor nobody expects
  }
  return JSON.stringify(doc);
}

export function mutateSafetensors(rng: Rng, bytes: Buffer, others: readonly Buffer[]): Buffer {
  const parts = splitSafetensors(bytes);
  if (parts === null || rng.chance(0.2)) return mutateBytes(rng, bytes, others);
  let header = (rng.chance(0.5) ? mutateTensorEntry(rng, parts.header) : mutateJsonText(rng, parts.header)) ?? parts.header;
  if (rng.chance(0.1)) header += ' '.repeat(rng.int(16));  // padding, as some writers do
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  writeU64(len, 0, rng.chance(0.85) ? BigInt(h.length) : rng.pick([...EXTREME_U64, BigInt(h.length + 1), BigInt(h.length - 1)]));
  let data = parts.data;
  if (rng.chance(0.15)) data = data.subarray(0, rng.int(data.length + 1));
  return Buffer.concat([len, h, data]);
}

function splitEngine(b: Buffer): { plan: string; data: Buffer; head: Buffer } | null {
  if (b.length < ENGINE_HEADER) return null;
  const p = Number(b.readBigUInt64LE(AT.plan_length));
  const d = Number(b.readBigUInt64LE(AT.data_offset));
  const size = Number(b.readBigUInt64LE(AT.data_size));
  if (ENGINE_HEADER + p > b.length || d > b.length || d + size > b.length) return null;
  return { head: b.subarray(0, ENGINE_HEADER), plan: b.subarray(ENGINE_HEADER, ENGINE_HEADER + p).toString('utf8'), data: b.subarray(d, d + size) };
}

/** rank0.engine: mutate the plan JSON and re-frame it, or lie in one header field, or damage bytes. */
export function mutateEngineFile(rng: Rng, bytes: Buffer, others: readonly Buffer[]): Buffer {
  const parts = splitEngine(bytes);
  if (parts === null || rng.chance(0.15)) return mutateBytes(rng, bytes, others);
  if (rng.chance(0.2)) {  // one header field (version, flags, P, D, data size) set to an edge value
    const out = Buffer.from(bytes);
    const field = rng.pick([AT.version, AT.flags, AT.plan_length, AT.data_offset, AT.data_size]);
    if (field < AT.plan_length) out.writeUInt32LE(rng.pick([0, 1, 2, 3, 0xffffffff]), field);
    else writeU64(out, field, rng.chance(0.5) ? rng.pick(EXTREME_U64) : out.readBigUInt64LE(field) + BigInt(rng.pick([-4096, -64, -1, 1, 64, 4096])));
    return out;
  }
  const planText = mutateJsonText(rng, parts.plan) ?? parts.plan;
  const plan = Buffer.from(planText, 'utf8');
  const dataOffset = Math.ceil((ENGINE_HEADER + plan.length) / DATA_ALIGN) * DATA_ALIGN;
  let data = parts.data;
  if (rng.chance(0.15)) data = data.subarray(0, rng.int(data.length + 1));
  const head = Buffer.alloc(dataOffset, 0x20);
  parts.head.copy(head, 0, 0, AT.plan_length);  // magic, version, flags
  head.writeBigUInt64LE(BigInt(plan.length), AT.plan_length);
  head.writeBigUInt64LE(BigInt(dataOffset), AT.data_offset);
  head.writeBigUInt64LE(BigInt(rng.chance(0.9) ? parts.data.length : data.length), AT.data_size);
  plan.copy(head, ENGINE_HEADER);
  return Buffer.concat([head, data]);
}
