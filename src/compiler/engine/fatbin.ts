// Reads the table of contents of an NVIDIA fatbin (what nvcc -fatbin writes, ENGINE/kernels/llmc.fatbin): which
// SASS (ELF cubins) and PTX it holds, for which SM architectures. The container is undocumented; the layout below
// was checked against nvcc 13.0's output (docs/cuda.md, "The fatbin") and agrees with public reverse-engineering
// notes. All integers little-endian. A file is one or more containers back to back:
//
//   container header (16 bytes)
//     +0  u32 magic 0xBA55ED50
//     +4  u16 version (1)
//     +6  u16 header size (16): the first entry starts here
//     +8  u64 fat size: bytes of entries after the header
//   entry (header of `header size` bytes: 64, or 80/112 when nvcc appends extra fields, then the payload)
//     +0  u16 kind: 1 PTX, 2 ELF (SASS); other kinds are listed as 'other'
//     +2  u16 attributes (0x0101 seen)
//     +4  u32 header size: the payload starts at entry + header size
//     +8  u64 payload size, padded to 8: the next entry starts at entry + header size + payload size
//     +16 u32 compressed size (bytes of the compressed stream; 0 when stored plain)
//     +20 u32 (0, or 0x40 with the longer headers)
//     +24 u16 code version minor, +26 u16 major (PTX ISA 9.0 for PTX, ELF ABI 1.8 for SASS with nvcc 13)
//     +28 u32 SM architecture as an integer: 80, 86, 90, 100, ...
//     +32 u32 name offset, +36 u32 name length (0 from nvcc -fatbin)
//     +40 u64 flags: 0x1 64-bit code, 0x10 Linux host, 0x2000 LZ4-compressed, 0x8000 zstd-compressed,
//                    0x100000 arch-specific ('a': sm_90a / compute_90a), 0x200000 family-specific ('f': sm_100f)
//     +48 u64 reserved
//     +56 u64 uncompressed size (when compressed)
import { fail } from '../../errors.js';

export const FATBIN_MAGIC = 0xba55ed50;
const CONTAINER_HEADER = 16;
const ENTRY_HEADER_MIN = 64;

const FLAG_LZ4 = 0x2000;
const FLAG_ZSTD = 0x8000;
const FLAG_ARCH_SPECIFIC = 0x100000;
const FLAG_FAMILY_SPECIFIC = 0x200000;

export type FatbinKind = 'ptx' | 'sass' | 'other';

export interface FatbinEntry {
  kind: FatbinKind;
  kindCode: number;               // the raw kind field
  arch: number;                   // 80, 90, 100, ...
  variant: '' | 'a' | 'f';        // arch-specific / family-specific code
  /** sm_90a for SASS, compute_80 for PTX (the spelling nvcc's -gencode uses). */
  target: string;
  codeVersion: string;            // "9.0" (PTX ISA) or "1.8" (ELF ABI)
  compression: 'none' | 'lz4' | 'zstd';
  offset: number;                 // of the entry header in the file
  payloadOffset: number;
  payloadSize: number;            // bytes stored (compressed size when compressed, else padded payload size)
  uncompressedSize: number;
  flags: number;
}

/** Lists the entries of every container in `buf`. Throws BAD_ENGINE naming `where` when the bytes are not a fatbin. */
export function parseFatbin(buf: Buffer, where: string): FatbinEntry[] {
  const bad = (msg: string): never => fail('BAD_ENGINE', `${where}: ${msg}`, 'rebuild the engine (llmc build ... --target cuda --force)');
  const entries: FatbinEntry[] = [];
  let pos = 0;
  if (buf.length === 0) bad('empty file, not a fatbin');
  while (pos < buf.length) {
    if (buf.length - pos < CONTAINER_HEADER) bad(`${buf.length - pos} stray bytes at offset ${pos} (a container header is 16 bytes)`);
    const magic = buf.readUInt32LE(pos);
    if (magic !== FATBIN_MAGIC) bad(`bad magic 0x${magic.toString(16)} at offset ${pos} (a fatbin container starts with 0xba55ed50)`);
    const version = buf.readUInt16LE(pos + 4);
    if (version !== 1) bad(`container at offset ${pos} has version ${version}; this llmc reads version 1`);
    const headerSize = buf.readUInt16LE(pos + 6);
    if (headerSize < CONTAINER_HEADER) bad(`container at offset ${pos} has header size ${headerSize} (< 16)`);
    const fatSize = u64(buf, pos + 8, bad);
    const end = pos + headerSize + fatSize;
    if (end > buf.length) bad(`container at offset ${pos} claims ${fatSize} bytes of entries but the file ends at ${buf.length}; the file is truncated`);
    let e = pos + headerSize;
    while (e < end) {
      if (end - e < ENTRY_HEADER_MIN) bad(`entry at offset ${e} is cut off by the container end (${end})`);
      entries.push(readEntry(buf, e, end, bad));
      const last = entries[entries.length - 1];
      e = last.payloadOffset + u64(buf, e + 8, bad);
    }
    pos = end;
  }
  return entries;
}

function readEntry(buf: Buffer, e: number, end: number, bad: (msg: string) => never): FatbinEntry {
  const kindCode = buf.readUInt16LE(e);
  const headerSize = buf.readUInt32LE(e + 4);
  const paddedSize = u64(buf, e + 8, bad);
  if (headerSize < ENTRY_HEADER_MIN) bad(`entry at offset ${e} has header size ${headerSize} (< ${ENTRY_HEADER_MIN})`);
  if (e + headerSize + paddedSize > end) bad(`entry at offset ${e} (${headerSize}-byte header, ${paddedSize}-byte payload) runs past its container's end (${end})`);
  const compressedSize = buf.readUInt32LE(e + 16);
  const minor = buf.readUInt16LE(e + 24);
  const major = buf.readUInt16LE(e + 26);
  const arch = buf.readUInt32LE(e + 28);
  const flags = u64(buf, e + 40, bad);
  const uncompressed = u64(buf, e + 56, bad);
  const compression = flags & FLAG_ZSTD ? 'zstd' : flags & FLAG_LZ4 ? 'lz4' : 'none';
  if (compression !== 'none' && compressedSize > paddedSize) bad(`entry at offset ${e}: compressed size ${compressedSize} exceeds its payload (${paddedSize})`);
  const kind: FatbinKind = kindCode === 1 ? 'ptx' : kindCode === 2 ? 'sass' : 'other';
  const variant = flags & FLAG_ARCH_SPECIFIC ? 'a' : flags & FLAG_FAMILY_SPECIFIC ? 'f' : '';
  const prefix = kind === 'ptx' ? 'compute' : kind === 'sass' ? 'sm' : `kind${kindCode}`;
  return {
    kind, kindCode, arch, variant,
    target: `${prefix}_${arch}${variant}`,
    codeVersion: `${major}.${minor}`,
    compression,
    offset: e,
    payloadOffset: e + headerSize,
    payloadSize: compression === 'none' ? paddedSize : compressedSize,
    uncompressedSize: compression === 'none' ? paddedSize : uncompressed,
    flags,
  };
}

/** A u64 field as a number (fatbins are far below 2^53 bytes; a larger value means corrupt bytes). */
function u64(buf: Buffer, at: number, bad: (msg: string) => never): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(`field at offset ${at} is ${v}, too large for a fatbin`);
  return Number(v);
}

/** The kernel entry points (`.entry NAME`) of an uncompressed PTX entry; [] for SASS or compressed PTX. */
export function ptxKernelNames(buf: Buffer, entry: FatbinEntry): string[] {
  if (entry.kind !== 'ptx' || entry.compression !== 'none') return [];
  const text = buf.subarray(entry.payloadOffset, entry.payloadOffset + entry.payloadSize).toString('latin1');
  const names = new Set<string>();
  for (const m of text.matchAll(/\.entry\s+([A-Za-z_$][\w$]*)/g)) names.add(m[1]);
  return [...names].sort();
}

/** One line per entry, for `llmc inspect` and build logs: "SASS sm_90a (3.6 KB)". */
export function describeFatbin(entries: readonly FatbinEntry[]): string[] {
  return entries.map((e) => {
    const kind = e.kind === 'ptx' ? 'PTX' : e.kind === 'sass' ? 'SASS' : `kind ${e.kindCode}`;
    const size = `${(e.uncompressedSize / 1024).toFixed(1)} KB${e.compression === 'none' ? '' : `, ${e.compression}-compressed`}`;
    return `${kind} ${e.target} (${size})`;
  });
}
