// The fatbin parser (src/compiler/engine/fatbin.ts): on containers written here byte by byte (runs anywhere), and
// on what nvcc writes when the CUDA toolkit is present (the layout was reverse-engineered from that output).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeFatbin, parseFatbin, ptxKernelNames } from '../../src/compiler/engine/fatbin.js';
import { findNvcc } from '../../src/compiler/cuda/nvcc.js';
import { cleanupTemps, expectOneLine, llmcError, tempDir } from './helpers.js';

afterAll(cleanupTemps);

interface FakeEntry { kind: number; arch: number; flags?: number; payload: Buffer; headerSize?: number; compressedSize?: number; uncompressed?: number }

/** One container as nvcc lays it out: 16-byte header, then per entry its header and its payload padded to 8. */
function container(entries: FakeEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const hs = e.headerSize ?? 64;
    const padded = Math.ceil(e.payload.length / 8) * 8;
    const h = Buffer.alloc(hs);
    h.writeUInt16LE(e.kind, 0);
    h.writeUInt16LE(0x0101, 2);
    h.writeUInt32LE(hs, 4);
    h.writeBigUInt64LE(BigInt(padded), 8);
    h.writeUInt32LE(e.compressedSize ?? 0, 16);
    h.writeUInt16LE(e.kind === 1 ? 0 : 8, 24);
    h.writeUInt16LE(e.kind === 1 ? 9 : 1, 26);
    h.writeUInt32LE(e.arch, 28);
    h.writeBigUInt64LE(BigInt(e.flags ?? 0x11), 40);
    h.writeBigUInt64LE(BigInt(e.uncompressed ?? 0), 56);
    parts.push(h, e.payload, Buffer.alloc(padded - e.payload.length));
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(0xba55ed50, 0);
  head.writeUInt16LE(1, 4);
  head.writeUInt16LE(16, 6);
  head.writeBigUInt64LE(BigInt(body.length), 8);
  return Buffer.concat([head, body]);
}

const PTX = Buffer.from('.version 9.0\n.target sm_80\n.visible .entry llmc_a(\n.param .u64 p)\n{ ret; }\n.visible .entry llmc_b()\n{ ret; }\n');
const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(29)]);

describe('fatbin parser on hand-made containers', () => {
  test('lists PTX and SASS entries with arch, variant and size; reads PTX entry points', () => {
    const fb = container([
      { kind: 1, arch: 80, payload: PTX, headerSize: 80 },
      { kind: 2, arch: 80, payload: ELF },
      { kind: 2, arch: 90, flags: 0x100011, payload: ELF },
      { kind: 2, arch: 100, flags: 0x1200011, payload: ELF, headerSize: 112 },
    ]);
    const entries = parseFatbin(fb, 'x.fatbin');
    expect(entries.map((e) => [e.kind, e.target, e.arch])).toEqual([
      ['ptx', 'compute_80', 80], ['sass', 'sm_80', 80], ['sass', 'sm_90a', 90], ['sass', 'sm_100f', 100],
    ]);
    expect(entries[0].codeVersion).toBe('9.0');
    expect(entries[1].payloadSize).toBe(40);                 // 33 bytes padded to 8
    expect(ptxKernelNames(fb, entries[0])).toEqual(['llmc_a', 'llmc_b']);
    expect(ptxKernelNames(fb, entries[1])).toEqual([]);
    expect(describeFatbin(entries)[2]).toBe('SASS sm_90a (0.0 KB)');
  });

  test('compressed entries report their compression and uncompressed size; two containers back to back', () => {
    const zstd = { kind: 1, arch: 80, flags: 0x8011, payload: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]), compressedSize: 7, uncompressed: 646, headerSize: 80 };
    const lz4 = { kind: 1, arch: 86, flags: 0x2011, payload: Buffer.alloc(11), compressedSize: 11, uncompressed: 500 };
    const entries = parseFatbin(Buffer.concat([container([zstd]), container([lz4, { kind: 2, arch: 86, payload: ELF }])]), 'x');
    expect(entries.map((e) => [e.target, e.compression, e.payloadSize, e.uncompressedSize])).toEqual([
      ['compute_80', 'zstd', 7, 646], ['compute_86', 'lz4', 11, 500], ['sm_86', 'none', 40, 40],
    ]);
    expect(ptxKernelNames(Buffer.alloc(0), entries[0])).toEqual([]);   // names are unreadable when compressed
  });

  test.each([
    ['an empty file', () => Buffer.alloc(0), /empty file/],
    ['bad magic', () => Buffer.from('ELF not a fatbin at all'), /bad magic 0x20464c45 at offset 0/],
    ['truncated', () => container([{ kind: 2, arch: 80, payload: ELF }]).subarray(0, 100), /the file is truncated/],
    ['an entry past its container', () => {
      const b = container([{ kind: 2, arch: 80, payload: ELF }]);
      b.writeBigUInt64LE(4096n, 16 + 8);
      return b;
    }, /runs past its container's end/],
    ['stray bytes after the last container', () => Buffer.concat([container([{ kind: 2, arch: 80, payload: ELF }]), Buffer.alloc(3)]), /3 stray bytes/],
    ['another container version', () => {
      const b = container([{ kind: 2, arch: 80, payload: ELF }]);
      b.writeUInt16LE(2, 4);
      return b;
    }, /version 2; this llmc reads version 1/],
  ])('refuses %s with one BAD_ENGINE line', async (_what, make, pattern) => {
    expectOneLine(await llmcError(() => parseFatbin(make(), 'k.fatbin')), 'BAD_ENGINE', pattern);
  });
});

const nvcc = (() => {
  try {
    return findNvcc();
  } catch {
    return null;
  }
})();

(nvcc ? describe : describe.skip)('fatbin parser on nvcc output', () => {
  test('sm_80 + sm_90a SASS, sm_100f SASS and compute_80 PTX, plain and zstd-compressed', () => {
    const dir = tempDir();
    const src = join(dir, 'k.cu');
    writeFileSync(src, 'extern "C" __global__ void llmc_k(float* x) { x[threadIdx.x] = 1.0f; }\n');
    const compile = (extra: string[], out: string) => {
      const r = spawnSync(nvcc!.path, ['-fatbin', ...extra, '-gencode', 'arch=compute_80,code=sm_80', '-gencode', 'arch=compute_90a,code=sm_90a',
        '-gencode', 'arch=compute_100f,code=sm_100f', '-gencode', 'arch=compute_80,code=compute_80', '-o', join(dir, out), src], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return readFileSync(join(dir, out));
    };
    const plain = compile(nvcc!.compressMode ? ['--compress-mode=none'] : [], 'plain.fatbin');
    const entries = parseFatbin(plain, 'plain.fatbin');
    expect(entries.map((e) => e.target).sort()).toEqual(['compute_80', 'sm_100f', 'sm_80', 'sm_90a']);
    for (const e of entries.filter((x) => x.kind === 'sass')) {
      expect(plain.subarray(e.payloadOffset, e.payloadOffset + 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));  // an ELF
    }
    expect(ptxKernelNames(plain, entries.find((e) => e.kind === 'ptx')!)).toEqual(['llmc_k']);
    if (nvcc!.compressMode) {
      const packed = parseFatbin(compile(['--compress-mode=size'], 'size.fatbin'), 'size.fatbin');
      expect(packed.map((e) => e.target).sort()).toEqual(['compute_80', 'sm_100f', 'sm_80', 'sm_90a']);
      expect(packed.some((e) => e.compression === 'zstd')).toBe(true);
    }
  });
});
