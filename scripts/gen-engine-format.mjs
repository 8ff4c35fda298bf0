// The engine-format constants for both languages from schema/engine-format.json (imported by scripts/gen-ops.mjs,
// which writes and checks the files): the format version, the magic, the header layout, the alignments.
//   src/compiler/engine/format.generated.ts      (TS: re-exported by src/compiler/engine/format.ts)
//   native/include/llmc/engine_format.generated.h (C: included by llmc.h, so the C API's version macro is this one)
import { schemaOutputs } from './gen-schema.mjs';

const isPow2 = (n) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

function validate(f) {
  if (!Number.isInteger(f.format_version) || f.format_version < 1) throw new Error('engine-format: format_version must be a positive integer');
  if (!f.history?.[String(f.format_version)]) throw new Error(`engine-format: history has no entry for format_version ${f.format_version}`);
  if (!Array.isArray(f.magic) || f.magic.length !== 8 || !f.magic.every((b) => Number.isInteger(b) && b >= 0 && b < 256)) {
    throw new Error('engine-format: magic must be 8 byte values');
  }
  let at = 0;
  for (const h of f.header) {
    if (!/^[a-z][a-z0-9_]*$/.test(h.name)) throw new Error(`engine-format: header field ${h.name} must be snake_case`);
    if (![4, 8].includes(h.bytes)) throw new Error(`engine-format: header field ${h.name}: bytes must be 4 or 8`);
    if (at % h.bytes !== 0) throw new Error(`engine-format: header field ${h.name} at ${at} is not ${h.bytes}-byte aligned`);
    at += h.bytes;
  }
  if (f.header[0]?.name !== 'magic') throw new Error('engine-format: the header starts with the magic');
  for (const k of ['data_align', 'weight_align']) if (!isPow2(f[k])) throw new Error(`engine-format: ${k} must be a power of two`);
  if (f.data_align % f.weight_align !== 0) throw new Error('engine-format: data_align must be a multiple of weight_align');
}

/** [{ name, offset, bytes, doc }] in file order, and the header's size. */
function layout(f) {
  let at = 0;
  const fields = f.header.map((h) => { const o = { ...h, offset: at }; at += h.bytes; return o; });
  return { fields, size: at };
}

function genTs(f, banner) {
  const { fields, size } = layout(f);
  const hex = f.magic.map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ');
  return [banner, '',
    `/** Engine format version (${f.history[String(f.format_version)]}). */`,
    `export const FORMAT_VERSION = ${f.format_version};`,
    `/** rank0.engine's first bytes: "${f.magic_doc}". */`,
    `export const MAGIC = Buffer.from([${hex}]);`,
    `/** Bytes of rank0.engine's fixed header; the plan JSON starts right after it. */`,
    `export const HEADER_BYTES = ${size};`,
    '/** Byte offset of each header field (all little-endian). */',
    'export const HEADER_OFFSETS = {',
    ...fields.map((h) => `  ${h.name}: ${h.offset},  // ${h.bytes} bytes: ${h.doc}`),
    '} as const;',
    `/** Alignment of ${f.data_align_doc}. */`,
    `export const DATA_ALIGN = ${f.data_align};`,
    `/** Alignment of ${f.weight_align_doc}. */`,
    `export const WEIGHT_ALIGN = ${f.weight_align};`, ''].join('\n');
}

function genC(f, banner) {
  const { fields, size } = layout(f);
  const macro = (name) => `LLMC_ENGINE_OFFSET_${name.toUpperCase()}`;
  return [banner, '// C, not C++: llmc.h (the C API) includes it.', '#pragma once', '',
    `/* Engine format version (${f.history[String(f.format_version)]}). */`,
    `#define LLMC_ENGINE_FORMAT_VERSION ${f.format_version}`,
    `/* rank0.engine's first 8 bytes: "${f.magic_doc}" (an initializer for a char[8]). */`,
    `#define LLMC_ENGINE_MAGIC_INIT {${f.magic.join(', ')}}`,
    `/* Bytes of rank0.engine's fixed header; the plan JSON starts right after it. */`,
    `#define LLMC_ENGINE_HEADER_BYTES ${size}`,
    '/* Byte offset of each header field (all little-endian). */',
    ...fields.map((h) => `#define ${macro(h.name)} ${h.offset}  /* ${h.bytes} bytes: ${h.doc} */`),
    `/* Alignment of ${f.data_align_doc}. */`,
    `#define LLMC_ENGINE_DATA_ALIGN ${f.data_align}`,
    `/* Alignment of ${f.weight_align_doc}. */`,
    `#define LLMC_ENGINE_WEIGHT_ALIGN ${f.weight_align}`, ''].join('\n');
}

/** { relative path: text } of the generated files. */
export function engineFormatOutputs(root) {
  return schemaOutputs(root, 'schema/engine-format.json', validate, {
    'src/compiler/engine/format.generated.ts': genTs,
    'native/include/llmc/engine_format.generated.h': genC,
  });
}
