// Reads an engine directory back: the manifest (readManifest) and rank0.engine's header and plan (readPlan), with
// the checks of docs/engine-format.md. Used by `llmc inspect`, the ONNX export and the tests; the C++ loader
// does the same checks natively.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../../errors.js';
import { SCHEMA_HASH } from '../ir/ops.generated.js';
import { dtypeBytes, WEIGHT_DTYPES } from '../ir/graph.js';
import { planShapeProblem } from './plan-shape.js';
import { DATA_ALIGN, ENGINE_FILE, FORMAT_VERSION, HEADER_BYTES, HEADER_OFFSETS as AT, MAGIC, MANIFEST_FILE, type Plan, rankFile } from './format.js';
import { parseJson } from '../../json-depth.js';

export interface EngineHeader {
  formatVersion: number;
  flags: number;
  planLength: number;
  dataOffset: number;
  dataSize: number;
  fileSize: number;
}

export interface EnginePlan {
  header: EngineHeader;
  plan: Plan;
}

function rebuildHint(dir: string, sourceDir?: unknown): string {
  return `rebuild it: llmc build ${typeof sourceDir === 'string' ? sourceDir : 'HF_DIR'} -o ${dir}`;
}

export function readManifest(dirArg: string): Record<string, unknown> {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) fail('NOT_FOUND', `engine directory ${dir} does not exist`, 'build one with: llmc build HF_DIR -o ENGINE');
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) fail('BAD_ENGINE', `${dir} is not an llmc engine (no ${MANIFEST_FILE})`, 'build one with: llmc build HF_DIR -o ENGINE');
  let m: unknown;
  try {
    m = parseJson(readFileSync(path, 'utf8'));
  } catch (e) {
    return fail('BAD_ENGINE', `${path} is not valid JSON (${(e as Error).message})`, rebuildHint(dir));
  }
  if (typeof m !== 'object' || m === null || typeof (m as Record<string, unknown>).format_version !== 'number') {
    fail('BAD_ENGINE', `${path} is not an llmc engine manifest (no format_version)`, rebuildHint(dir));
  }
  const manifest = m as Record<string, unknown>;
  const source = (manifest.source as Record<string, unknown> | undefined)?.dir;
  if (manifest.format_version !== FORMAT_VERSION) {
    fail('VERSION', `engine ${dir} has format version ${manifest.format_version}; this llmc reads version ${FORMAT_VERSION}`, rebuildHint(dir, source));
  }
  if (manifest.schema_hash !== SCHEMA_HASH) {
    fail('VERSION', `engine ${dir} was built for op schema ${String(manifest.schema_hash)}; this llmc has ${SCHEMA_HASH}`, rebuildHint(dir, source));
  }
  return manifest;
}

/** Parses and checks rank<rank>.engine's header and plan (not the weight bytes themselves). */
export function readPlan(dirArg: string, rank = 0): EnginePlan {
  const dir = resolve(dirArg);
  const file = rank === 0 ? ENGINE_FILE : rankFile(rank);
  const path = join(dir, file);
  if (!existsSync(path)) fail('BAD_ENGINE', `${dir} has no ${file}`, rebuildHint(dir));
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const bad = (msg: string): never => fail('BAD_ENGINE', `${path}: ${msg}`, rebuildHint(dir));
    if (fileSize < HEADER_BYTES) bad(`file too short for the ${HEADER_BYTES}-byte header (${fileSize} bytes)`);
    const h = Buffer.alloc(HEADER_BYTES);
    readSync(fd, h, 0, HEADER_BYTES, 0);
    if (!h.subarray(AT.magic, AT.magic + MAGIC.length).equals(MAGIC)) bad('not an llmc engine file (bad magic)');
    const formatVersion = h.readUInt32LE(AT.version);
    if (formatVersion !== FORMAT_VERSION) fail('VERSION', `${path} has format version ${formatVersion}; this llmc reads version ${FORMAT_VERSION}`, rebuildHint(dir));
    const header: EngineHeader = {
      formatVersion, flags: h.readUInt32LE(AT.flags), planLength: Number(h.readBigUInt64LE(AT.plan_length)),
      dataOffset: Number(h.readBigUInt64LE(AT.data_offset)), dataSize: Number(h.readBigUInt64LE(AT.data_size)), fileSize,
    };
    if (header.flags !== 0) bad(`unknown header flags ${header.flags}`);
    if (HEADER_BYTES + header.planLength > fileSize) bad(`plan length ${header.planLength} runs past the end of the file (${fileSize} bytes)`);
    if (header.dataOffset % DATA_ALIGN !== 0) bad(`data offset ${header.dataOffset} is not a multiple of ${DATA_ALIGN}`);
    if (header.dataOffset < HEADER_BYTES + header.planLength) bad(`data offset ${header.dataOffset} is inside the plan`);
    if (header.dataOffset + header.dataSize > fileSize) bad(`data section [${header.dataOffset}, +${header.dataSize}) runs past the end of the file (${fileSize} bytes); the file is truncated`);
    const planBytes = Buffer.alloc(header.planLength);
    readSync(fd, planBytes, 0, header.planLength, HEADER_BYTES);
    let plan: Plan;
    try {
      plan = parseJson(planBytes.toString('utf8')) as Plan;
    } catch (e) {
      return bad(`the plan is not valid JSON (${(e as Error).message})`);
    }
    if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) bad('the plan is not a JSON object');
    if (plan.format_version !== FORMAT_VERSION) fail('VERSION', `${path}: plan format version ${plan.format_version}, expected ${FORMAT_VERSION}`, rebuildHint(dir));
    if (plan.schema_hash !== SCHEMA_HASH) fail('VERSION', `${path} was built for op schema ${plan.schema_hash}; this llmc has ${SCHEMA_HASH}`, rebuildHint(dir));
    const shapeProblem = planShapeProblem(plan);
    if (shapeProblem !== null) bad(shapeProblem);
    plan.values.forEach((v) => {
      if (v.kind !== 'weight') return;
      if (!(WEIGHT_DTYPES as readonly string[]).includes(v.dtype)) bad(`weight ${v.name} has unknown dtype ${v.dtype}`);
      const want = dtypeBytes(v.dtype, v.shape);
      if (v.nbytes !== want) bad(`weight ${v.name}: nbytes ${v.nbytes} != ${want}, the ${v.dtype} size of shape [${v.shape}]`);
      if (v.dummy !== undefined) {
        if (v.offset !== undefined) bad(`weight ${v.name} has both a dummy generator and an offset`);
        const why = dummyProblem(v.dummy);
        if (why) fail('VERSION', `${path}: weight ${v.name}: ${why}`, rebuildHint(dir));
        return;
      }
      const offset = v.offset;
      if (typeof offset !== 'number') return bad(`weight ${v.name} has neither an offset nor a dummy generator`);
      if (offset % 64 !== 0 || offset + v.nbytes > header.dataSize) bad(`weight ${v.name} [${offset}, +${v.nbytes}) is outside the data section or misaligned`);
    });
    return { header, plan };
  } finally {
    closeSync(fd);
  }
}

/** Why a plan's `dummy` object is not one this llmc reads (a newer writer, or damage), or null when it is fine. */
function dummyProblem(d: unknown): string | null {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'dummy is not an object';
  const o = d as Record<string, unknown>;
  const keys = o.kind === 'const' ? ['kind', 'seed', 'value'] : ['kind', 'seed', 'std'];
  if (!['normal', 'ones', 'const'].includes(o.kind as string)) return `dummy kind ${JSON.stringify(o.kind)} is not one this llmc knows (normal, ones, const)`;
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length) return `dummy has fields this llmc does not know: ${extra.join(', ')}`;
  if (!Number.isSafeInteger(o.seed) || (o.seed as number) < 0) return `dummy seed ${JSON.stringify(o.seed)} is not a non-negative integer`;
  const p = o.kind === 'const' ? o.value : o.std;
  if (typeof p !== 'number' || !Number.isFinite(p) || (o.kind !== 'const' && p < 0)) return `dummy ${keys[2]} ${JSON.stringify(p)} is not valid`;
  return null;
}

/** The stored bytes of one weight (tests and inspection). */
export function readWeightBytes(dirArg: string, ep: EnginePlan, name: string): Buffer {
  const v = ep.plan.values.find((x) => x.kind === 'weight' && x.name === name);
  if (!v || v.kind !== 'weight') return fail('NOT_FOUND', `engine has no weight ${name}`);
  if (v.offset === undefined) return fail('BAD_ARGUMENT', `weight ${name} is a dummy weight: its values are generated when the engine loads`);
  const fd = openSync(join(resolve(dirArg), ENGINE_FILE), 'r');
  try {
    const buf = Buffer.alloc(v.nbytes);
    readSync(fd, buf, 0, v.nbytes, ep.header.dataOffset + v.offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}
