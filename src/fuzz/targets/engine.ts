// Engine inputs, as the TS side reads them: config.json (the manifest, runtime and compiler readers) and
// rank0.engine (header, plan JSON, weight ranges; `llmc inspect`'s summary; stored weight bytes). The native loader
// has its own libFuzzer targets (native/fuzz). Corpus: engines built from golden fixtures and a dummy-weight preset.
import { readEngineManifest } from '../../runtime/manifest.js';
import { readManifest, readPlan, readWeightBytes } from '../../compiler/engine/reader.js';
import { summarizePlan } from '../../cli/inspect.js';
import { fixtureEngines, readDirFiles, writeFiles } from '../corpus.js';
import { mutateEngineFile } from '../formats.js';
import { mutateFile, mutateFiles, type FuzzTarget } from '../target.js';

export const ENGINE_CORPUS = ['llama', 'gpt2', 'falcon_alibi', 'gpt_neox', 'phi', 'dummy:llama-2-7b'];

export const engineTarget: FuzzTarget = {
  name: 'engine',
  what: 'engine config.json + rank0.engine (TS readers: manifest, header, plan, weight ranges, inspect summary)',
  async corpus() {
    return (await fixtureEngines(ENGINE_CORPUS)).map(([name, dir]) => ({
      tag: name, files: readDirFiles(dir, (f) => f === 'config.json' || f === 'rank0.engine'),
    }));
  },
  mutate: (rng, base, corpus) => mutateFiles(rng, base, corpus,
    (r, name, bytes, others) => (name === 'rank0.engine' ? mutateEngineFile(r, bytes, others) : mutateFile(r, name, bytes, others))),
  run(c, dir) {
    writeFiles(dir, c.files);
    readEngineManifest(dir);
    readManifest(dir);
    const ep = readPlan(dir);
    summarizePlan(ep.plan);
    for (const v of ep.plan.values) {
      if (v.kind === 'weight' && v.offset !== undefined) readWeightBytes(dir, ep, v.name);
    }
  },
};
