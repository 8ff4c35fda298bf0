// Pre-quantized checkpoints (GPTQ, AWQ, compressed-tensors int and fp8): config.json's quantization_config,
// quantize_config.json and the packed tensors (qweight, qzeros, scales, g_idx) through a whole `llmc build`
// (src/compiler/quant: format detection, unpacking, the quantized engine). Corpus: test/fixtures/golden-quant.
// A build is ~100 ms, so this target runs about ten inputs a second.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildEngine } from '../../compiler/build.js';
import { readDirFiles, repoRoot, writeFiles } from '../corpus.js';
import { mutateSafetensors } from '../formats.js';
import { mutateFile, mutateFiles, type FuzzTarget } from '../target.js';

const QUANT_FIXTURES = join(repoRoot, 'test', 'fixtures', 'golden-quant');

export const quantCheckpointTarget: FuzzTarget = {
  name: 'quant-checkpoint',
  what: 'pre-quantized checkpoints (GPTQ / AWQ / compressed-tensors): quantization_config + packed tensors through llmc build',
  corpus: () => (existsSync(QUANT_FIXTURES) ? readdirSync(QUANT_FIXTURES, { withFileTypes: true }) : [])
    .filter((d) => d.isDirectory() && existsSync(join(QUANT_FIXTURES, d.name, 'model', 'config.json')))
    .map((d) => ({ tag: d.name, files: readDirFiles(join(QUANT_FIXTURES, d.name, 'model')) })),
  mutate: (rng, base, corpus) => mutateFiles(rng, base, corpus,
    (r, name, bytes, others) => (name.endsWith('.safetensors') ? mutateSafetensors(r, bytes, others) : mutateFile(r, name, bytes, others))),
  async run(c, dir) {
    const model = join(dir, 'model');
    mkdirSync(model);
    writeFiles(model, c.files);
    await buildEngine({ modelDir: model, outDir: join(dir, 'engine'), force: true });
  },
};
