// The KV cache storage dtype table for every language from schema/kv-cache-dtypes.json (imported by
// scripts/gen-ops.mjs, which writes and checks the files): ids, --kv-cache-dtype and plan names, element bytes,
// which dtypes carry a per-(token, kv head) scale and its qmax, and the block padding.
//   src/compiler/engine/kv-dtype.generated.ts  (TS: re-exported by src/compiler/engine/kv-dtype.ts)
//   native/include/llmc/kv_dtype.generated.h   (C++: llmc::KvDType, used by native/cpu/kv_dtype.h and the plan parser)
//   native/cuda/kernels/kv_dtype.generated.h   (CUDA kernel ABI codes kKv*, host and device; kernel_abi.h includes it)
import { schemaOutputs } from './gen-schema.mjs';

function validate(s) {
  const names = new Set(), plans = new Set();
  s.values.forEach((v, i) => {
    if (v.id !== i) throw new Error(`kv-cache-dtypes: ${v.name}: ids must be 0, 1, 2, ... in order`);
    if (!/^[a-z][a-z0-9]*$/.test(v.name) || names.has(v.name)) throw new Error(`kv-cache-dtypes: name ${v.name} must be lower-case and unique`);
    if (!/^[a-z][a-z0-9]*$/.test(v.plan) || plans.has(v.plan)) throw new Error(`kv-cache-dtypes: plan name ${v.plan} must be lower-case and unique`);
    if (![1, 2, 4].includes(v.elem_bytes)) throw new Error(`kv-cache-dtypes: ${v.name}: elem_bytes must be 1, 2 or 4`);
    if (typeof v.scaled !== 'boolean') throw new Error(`kv-cache-dtypes: ${v.name}: scaled must be true or false`);
    if (v.scaled !== (v.qmax !== undefined)) throw new Error(`kv-cache-dtypes: ${v.name}: a scaled dtype has a qmax, an unscaled one none`);
    if (v.scaled && !(v.qmax > 0)) throw new Error(`kv-cache-dtypes: ${v.name}: qmax must be positive`);
    names.add(v.name); plans.add(v.plan);
  });
  if (!names.has(s.default)) throw new Error(`kv-cache-dtypes: default ${s.default} is not a dtype`);
  if (!Number.isInteger(s.block_align) || s.block_align <= 0 || (s.block_align & (s.block_align - 1)) !== 0) throw new Error('kv-cache-dtypes: block_align must be a power of two');
  if (s.scale_bytes !== 4) throw new Error('kv-cache-dtypes: scale_bytes must be 4 (the scales are f32)');
}

const code = (v) => `kKv${v.plan.toUpperCase()}`;
const f32 = (x) => (Number.isInteger(x) ? `${x}.0f` : `${x}f`);

function genTs(s, banner) {
  const v = s.values;
  return [banner, '',
    '/** --kv-cache-dtype values, in id order. */',
    `export const KV_CACHE_DTYPE_NAMES = ${JSON.stringify(v.map((d) => d.name))} as const;`,
    'export type KvCacheDType = (typeof KV_CACHE_DTYPE_NAMES)[number];',
    '/** The plan\'s kv_cache.dtype values. */',
    `export type PlanKvDType = ${v.map((d) => `'${d.plan}'`).join(' | ')};`, '',
    '/** id: the dtype code both backends use; scaled: one f32 scale per (token, kv head), s = max|row| / qmax. */',
    'export interface KvDTypeInfo { id: number; plan: PlanKvDType; elemBytes: number; scaled: boolean; qmax?: number; what: string }', '',
    'export const KV_CACHE_DTYPES: Record<KvCacheDType, KvDTypeInfo> = {',
    ...v.map((d) => `  ${d.name}: { id: ${d.id}, plan: '${d.plan}', elemBytes: ${d.elem_bytes}, scaled: ${d.scaled}, ${d.scaled ? `qmax: ${d.qmax}, ` : ''}what: ${JSON.stringify(d.what)} },`),
    '};', '',
    `export const DEFAULT_KV_CACHE_DTYPE: KvCacheDType = '${s.default}';`,
    `/** ${s.block_align_doc}. */`,
    `export const KV_BLOCK_ALIGN = ${s.block_align};`,
    `/** Bytes of a scale: ${s.scale_doc}. */`,
    `export const KV_SCALE_BYTES = ${s.scale_bytes};`, ''].join('\n');
}

function genCpp(s, banner) {
  const v = s.values;
  return [banner, '#pragma once', '#include <cstddef>', '#include <cstdint>', '#include <cstring>', '', 'namespace llmc {', '',
    '// KV cache storage dtypes (plan kv_cache.dtype names); the values are the CUDA kernel ABI codes kKv*.',
    'enum class KvDType : int32_t {',
    ...v.map((d) => `  ${d.plan} = ${d.id},  // --kv-cache-dtype ${d.name}: ${d.what}`),
    '};',
    `constexpr int kNumKvDTypes = ${v.length};`,
    '// The plan names, for messages.',
    `constexpr const char* kKvDTypeNames = "${v.map((d) => d.plan).join(', ')}";`,
    `// ${s.block_align_doc}.`,
    `constexpr int64_t kKvBlockAlign = ${s.block_align};`,
    `// Bytes of a scale: ${s.scale_doc}.`,
    `constexpr int64_t kKvScaleBytes = ${s.scale_bytes};`, '',
    'inline bool kv_dtype_from_name(const char* s, KvDType* out) {',
    '  if (!s) return false;',
    ...v.map((d) => `  if (std::strcmp(s, "${d.plan}") == 0) { *out = KvDType::${d.plan}; return true; }`),
    '  return false;', '}',
    'inline const char* kv_dtype_name(KvDType t) {', '  switch (t) {',
    ...v.map((d) => `    case KvDType::${d.plan}: return "${d.plan}";`),
    '  }', '  return "invalid";', '}',
    'inline size_t kv_elem_bytes(KvDType t) {', '  switch (t) {',
    ...v.map((d) => `    case KvDType::${d.plan}: return ${d.elem_bytes};`),
    '  }', '  return 0;', '}',
    '// One f32 scale per (token, kv head) for k and for v.',
    'inline bool kv_dtype_scaled(KvDType t) {', '  switch (t) {',
    ...v.map((d) => `    case KvDType::${d.plan}: return ${d.scaled};`),
    '  }', '  return false;', '}',
    '// A scaled row is stored as round(x / s), s = max|row| / qmax; 0 for unscaled dtypes.',
    'inline float kv_dtype_qmax(KvDType t) {', '  switch (t) {',
    ...v.map((d) => `    case KvDType::${d.plan}: return ${f32(d.scaled ? d.qmax : 0)};`),
    '  }', '  return 0.0f;', '}', '',
    '}  // namespace llmc', ''].join('\n');
}

// Kernel side: no standard headers (nvcc and the CPU emulator compile it with the kernels, g++ with the host
// launchers), constexpr ternaries callable from host and device.
function genKernel(s, banner) {
  const v = s.values;
  // dtype == A ? x : (dtype == B || dtype == C) ? y : z over `of`, grouped by value, the last value the fallback
  // (the codes are valid by construction: the compare chain stays as short as a hand-written one).
  const chain = (of, f) => {
    const groups = new Map();
    for (const d of of) groups.set(f(d), [...(groups.get(f(d)) ?? []), d]);
    const entries = [...groups.entries()];
    const cond = (ds) => (ds.length === 1 ? `dtype == ${code(ds[0])}` : `(${ds.map((d) => `dtype == ${code(d)}`).join(' || ')})`);
    return entries.slice(0, -1).map(([x, ds]) => `${cond(ds)} ? ${x} : `).join('') + entries[entries.length - 1][0];
  };
  const scaled = v.filter((d) => d.scaled);
  return [banner, '// Included by kernel_abi.h.', '#pragma once', '#include <stdint.h>', '',
    '#if defined(__CUDACC__)', '#define LLMC_KV_FN __host__ __device__ __forceinline__ constexpr', '#else',
    '#define LLMC_KV_FN inline constexpr', '#endif', '', 'namespace llmc {', 'namespace kabi {', '',
    '// KV cache storage dtype codes (KvLayer::dtype; == llmc::KvDType).',
    `enum : int32_t { ${v.map((d) => `${code(d)} = ${d.id}`).join(', ')} };`,
    '// Bytes of one stored element.',
    `LLMC_KV_FN int kv_code_bytes(int32_t dtype) { return ${chain(v, (d) => d.elem_bytes)}; }`,
    '// One f32 scale per (token, kv head) for k and for v.',
    `LLMC_KV_FN bool kv_code_scaled(int32_t dtype) { return ${scaled.map((d) => `dtype == ${code(d)}`).join(' || ') || 'false'}; }`,
    '// A scaled row is stored as round(x / s), s = max|row| / qmax. Scaled codes only (kv_code_scaled).',
    `LLMC_KV_FN float kv_code_qmax(int32_t dtype) { return ${scaled.length ? chain(scaled, (d) => f32(d.qmax)) : '0.0f'}; }`,
    '', '}  // namespace kabi', '}  // namespace llmc', '', '#undef LLMC_KV_FN', ''].join('\n');
}

/** { relative path: text } of the generated files. */
export function kvDTypeOutputs(root) {
  return schemaOutputs(root, 'schema/kv-cache-dtypes.json', validate, {
    'src/compiler/engine/kv-dtype.generated.ts': genTs,
    'native/include/llmc/kv_dtype.generated.h': genCpp,
    'native/cuda/kernels/kv_dtype.generated.h': genKernel,
  });
}
