// A HuggingFace checkpoint directory: config.json, generation ids, and the tensor table of its safetensors
// file(s) (single model.safetensors, or shards listed by model.safetensors.index.json). Only headers are read here;
// tensor bytes are read later, one tensor at a time, through a TensorReader.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../../errors.js';
import { FLOAT_CHECKPOINT_DTYPES, readSafetensorsHeader, type TensorInfo } from './safetensors.js';
import { readGeneration, type GenerationIds } from './generation.js';
import { parseJsonObject } from './json.js';

export interface Checkpoint {
  dir: string;                          // absolute
  config: Record<string, unknown>;      // config.json as written
  generation: GenerationIds;
  files: string[];                      // safetensors file names (relative to dir), sorted
  tensors: Map<string, TensorInfo>;
  /** sha256 over config.json and every safetensors header (not the tensor data: cheap, and changes with any re-save). */
  sha256: string;
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

export function openCheckpoint(dirArg: string): Checkpoint {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) fail('NOT_FOUND', `${dir} does not exist`, 'point llmc build at a HuggingFace checkpoint directory');
  if (!statSync(dir).isDirectory()) fail('NOT_FOUND', `${dir} is not a directory`, 'point llmc build at a HuggingFace checkpoint directory');
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) fail('NOT_FOUND', `no config.json in ${dir}`, 'point llmc build at a HuggingFace checkpoint directory');
  const configBytes = readFileSync(configPath);
  const config = parseJsonObject(configBytes.toString('utf8'), `config.json in ${dir}`);

  const files = safetensorsFiles(dir);
  const hash = createHash('sha256');
  hash.update('config.json\0').update(configBytes);
  const tensors = new Map<string, TensorInfo>();
  const headers = files.map((f) => readSafetensorsHeader(join(dir, f)));
  headers.forEach((h, i) => {
    hash.update(`\0${files[i]}\0`).update(h.headerBytes);
    for (const [name, t] of h.tensors) {
      const other = tensors.get(name);
      if (other) fail('BAD_CHECKPOINT', `tensor ${name} is stored twice (${fileName(other.file)} and ${files[i]})`);
      tensors.set(name, t);
    }
  });
  if (existsSync(join(dir, INDEX_FILE))) checkIndex(dir, tensors);
  if (config.quantization_config === undefined) refuseNonFloat(tensors);

  return { dir, config, generation: readGeneration(dir, config), files, tensors, sha256: hash.digest('hex') };
}

/** Integer and fp8 tensors belong to pre-quantized checkpoints (config.json quantization_config) only. */
function refuseNonFloat(tensors: Map<string, TensorInfo>): void {
  for (const t of tensors.values()) {
    if (!FLOAT_CHECKPOINT_DTYPES.includes(t.dtype)) {
      fail('UNSUPPORTED', `${fileName(t.file)}: tensor ${t.name} has dtype ${t.dtype}; llmc reads F32, F16 and BF16 checkpoints (and pre-quantized ones with a quantization_config)`,
        'convert the checkpoint to float32, float16 or bfloat16');
    }
  }
}

function fileName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The safetensors files of the checkpoint, from the index when there is one. */
function safetensorsFiles(dir: string): string[] {
  const indexPath = join(dir, INDEX_FILE);
  if (existsSync(indexPath)) {
    const map = readWeightMap(dir);
    const files = [...new Set(Object.values(map))].sort();
    for (const f of files) {
      if (f === '' || f === '.' || f === '..' || f.includes('/') || f.includes('\\') || f.includes('\0')) fail('BAD_CHECKPOINT', `${INDEX_FILE} names a file outside the checkpoint: ${f}`);
      if (!existsSync(join(dir, f))) fail('BAD_CHECKPOINT', `${INDEX_FILE} lists ${f}, which is not in ${dir}`, 'download the missing shard');
    }
    return files;
  }
  if (existsSync(join(dir, SINGLE_FILE))) return [SINGLE_FILE];
  if (existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'))) {
    fail('UNSUPPORTED', `${dir} has PyTorch .bin weights only; llmc reads safetensors`,
      'convert it: python -c "from transformers import AutoModelForCausalLM as M; M.from_pretrained(D).save_pretrained(D, safe_serialization=True)"');
  }
  return fail('NOT_FOUND', `no ${SINGLE_FILE} or ${INDEX_FILE} in ${dir}`, 'point llmc build at a HuggingFace checkpoint directory with safetensors weights');
}

function readWeightMap(dir: string): Record<string, string> {
  const index = parseJsonObject(readFileSync(join(dir, INDEX_FILE), 'utf8'), `${INDEX_FILE} in ${dir}`);
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.values(map).some((v) => typeof v !== 'string')) {
    fail('BAD_CHECKPOINT', `${INDEX_FILE} in ${dir} has no {tensor: file} weight_map`);
  }
  return map as Record<string, string>;
}

/** Every tensor the index lists must be in the shard it names. */
function checkIndex(dir: string, tensors: Map<string, TensorInfo>): void {
  for (const [name, file] of Object.entries(readWeightMap(dir))) {
    const t = tensors.get(name);
    if (!t) fail('BAD_CHECKPOINT', `tensor ${name} is listed in ${INDEX_FILE} but missing from ${file}`, 'download the checkpoint again');
    if (fileName(t.file) !== file) fail('BAD_CHECKPOINT', `tensor ${name} is listed in ${INDEX_FILE} under ${file} but stored in ${fileName(t.file)}`);
  }
}
