// Checkpoint inputs: a single safetensors file, a sharded checkpoint (index + shards), and config.json +
// generation_config.json of every family through the whole front end (family, limits, weight map, graph, passes,
// plan). quantization_config is part of the config corpus so its import is fuzzed once it exists.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../compiler/hf/checkpoint.js';
import { readGeneration } from '../../compiler/hf/generation.js';
import { parseJsonObject } from '../../compiler/hf/json.js';
import { readSafetensorsHeader, TensorReader, type TensorInfo } from '../../compiler/hf/safetensors.js';
import { GraphBuilder } from '../../compiler/ir/builder.js';
import { buildDecoder } from '../../compiler/layers/decoder.js';
import { loadModel, resolveWeights } from '../../compiler/models/load.js';
import { resolveLimits } from '../../compiler/build.js';
import { buildPlan, layoutWeights } from '../../compiler/engine/plan.js';
import { buildPipeline, runPipeline } from '../../passes/pipeline.js';
import { fixtureModels, readDirFiles, writeFiles } from '../corpus.js';
import { mutateSafetensors } from '../formats.js';
import { mutateFile, mutateFiles, type FuzzCase, type FuzzTarget } from '../target.js';

const WEIGHT_DTYPES = { float32: 'f32', float16: 'f16', bfloat16: 'bf16' } as const;

function readAllTensors(tensors: Map<string, TensorInfo>): void {
  const reader = new TensorReader();
  try {
    for (const t of tensors.values()) reader.read(t);
  } finally {
    reader.close();
  }
}

const checkpointFileMutator = (rng: Parameters<typeof mutateFile>[0], name: string, bytes: Buffer, others: readonly Buffer[]) =>
  name.endsWith('.safetensors') ? mutateSafetensors(rng, bytes, others) : mutateFile(rng, name, bytes, others);

export const safetensorsTarget: FuzzTarget = {
  name: 'safetensors',
  what: 'one model.safetensors: header framing, tensor entries, tensor reads',
  corpus: () => fixtureModels()
    .filter(([, dir]) => existsSync(join(dir, 'model.safetensors')))
    .map(([name, dir]) => ({ tag: name, files: { 'model.safetensors': readFileSync(join(dir, 'model.safetensors')) } })),
  mutate: (rng, base, corpus) => mutateFiles(rng, base, corpus, checkpointFileMutator),
  run(c, dir) {
    writeFiles(dir, c.files);
    readAllTensors(readSafetensorsHeader(join(dir, 'model.safetensors')).tensors);
  },
};

export const shardedTarget: FuzzTarget = {
  name: 'safetensors-sharded',
  what: 'a sharded checkpoint: model.safetensors.index.json + shards + config.json (openCheckpoint)',
  corpus: () => fixtureModels()
    .filter(([name]) => name.includes('sharded'))
    .map(([name, dir]) => ({ tag: name, files: readDirFiles(dir) })),
  mutate: (rng, base, corpus) => mutateFiles(rng, base, corpus, checkpointFileMutator),
  run(c, dir) {
    writeFiles(dir, c.files);
    readAllTensors(openCheckpoint(dir).tensors);
  },
};

/** A quantization_config of each kind HF writes, added to a copy of one config per family. */
const QUANT_CONFIGS: Record<string, unknown>[] = [
  { quant_method: 'gptq', bits: 4, group_size: 128, desc_act: false, sym: true, damp_percent: 0.01 },
  { quant_method: 'awq', bits: 4, group_size: 128, zero_point: true, version: 'gemm' },
  { quant_method: 'compressed-tensors', format: 'pack-quantized', config_groups: { group_0: { targets: ['Linear'], weights: { num_bits: 8, type: 'int', symmetric: true, strategy: 'channel' } } }, ignore: ['lm_head'] },
  { quant_method: 'fp8', activation_scheme: 'dynamic', fmt: 'e4m3', weight_block_size: [128, 128] },
];

/** The tensor table of each fixture (headers only), so a mutated config meets the real weights. */
const tensorTables = new Map<string, Map<string, TensorInfo>>();

export const configTarget: FuzzTarget = {
  name: 'hf-config',
  what: 'config.json + generation_config.json of every family (with quantization_config variants): family, limits, weight map, graph, passes, plan',
  corpus() {
    const out: FuzzCase[] = [];
    for (const [name, dir] of fixtureModels()) {
      tensorTables.set(name, openCheckpoint(dir).tensors);
      const files = readDirFiles(dir, (f) => f === 'config.json' || f === 'generation_config.json');
      out.push({ tag: name, files });
      const cfg = JSON.parse(files['config.json'].toString('utf8')) as Record<string, unknown>;
      const q = QUANT_CONFIGS[out.length % QUANT_CONFIGS.length];
      out.push({ tag: name, files: { ...files, 'config.json': Buffer.from(JSON.stringify({ ...cfg, quantization_config: q }, null, 2)) } });
    }
    return out;
  },
  run(c, dir) {
    writeFiles(dir, c.files);
    const configBytes = c.files['config.json'];
    if (configBytes === undefined) return;
    const config = parseJsonObject(configBytes.toString('utf8'), `config.json in ${dir}`);
    readGeneration(dir, config);
    const model = loadModel({ config, tensors: tensorTables.get(c.tag!) ?? new Map() });
    const limits = resolveLimits({ outDir: dir }, model.cfg, () => {});
    const weights = resolveWeights(model);
    const dtype = WEIGHT_DTYPES[model.cfg.torch_dtype] ?? 'f32';
    let graph = (model.family.build ?? buildDecoder)({ g: new GraphBuilder(), cfg: model.cfg, weights, dtype });
    graph = runPipeline(graph, buildPipeline());
    buildPlan(graph, model.cfg, limits, layoutWeights(graph));
  },
};
