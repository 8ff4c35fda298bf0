// Block and embedding variants that no golden fixture covers, built from a golden checkpoint reshaped into the
// variant (config.json edited, tensors added or removed): the build must succeed and the input IR must have the
// variant's structure. opt-350m style: do_layer_norm_before=false (post-norm, no final LayerNorm) and
// word_embed_proj_dim < hidden_size (project_in / project_out around the decoder).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildEngine } from '../../../src/compiler/build.js';
import { readSafetensors, writeVariant, type StTensor } from '../../helpers/checkpoint-variants.js';
import { cleanupTemps, fixtureModel, tempDir } from '../helpers.js';

afterAll(cleanupTemps);

/** Deterministic small random f32 tensor (xorshift), values in [-0.1, 0.1). */
function randomTensor(shape: number[], seed: number): StTensor {
  const n = shape.reduce((a, d) => a * d, 1);
  const data = Buffer.alloc(4 * n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    data.writeFloatLE((s / 2 ** 32 - 0.5) * 0.2, 4 * i);
  }
  return { dtype: 'F32', shape, data };
}

/** opt-350m's shape, made from the opt fixture (hidden 64, proj dim 32). */
export function opt350mStyle(dstDir: string): string {
  const D = 'model.decoder.';
  const src = readSafetensors(join(fixtureModel('opt'), 'model.safetensors'));
  const vocab = src.get(`${D}embed_tokens.weight`)!.shape[0];
  return writeVariant(fixtureModel('opt'), dstDir, {
    rename: (n) => n,
    add: {
      [`${D}embed_tokens.weight`]: randomTensor([vocab, 32], 1),          // [vocab, word_embed_proj_dim]
      [`${D}project_in.weight`]: randomTensor([64, 32], 2),               // [hidden, word_embed_proj_dim]
      [`${D}project_out.weight`]: randomTensor([32, 64], 3),              // [word_embed_proj_dim, hidden]
    },
    drop: [`${D}final_layer_norm.weight`, `${D}final_layer_norm.bias`],   // post-norm OPT has none
    config: (c) => { c.do_layer_norm_before = false; c.word_embed_proj_dim = 32; },
  });
}

const inputIr = (dir: string) => readFileSync(join(dir, readdirSync(dir).find((f) => f.startsWith('00-'))!), 'utf8');
const nodeNames = (ir: string) => [...ir.matchAll(/ = \w+\(.*  # (\S+)/g)].map((m) => m[1]);

describe('opt-350m style: post-norm blocks, project_in / project_out', () => {
  test('builds, with norms after the residual adds, no final norm, and the projections around the decoder', async () => {
    const dir = opt350mStyle(join(tempDir('llmc-variant-'), 'opt350m'));
    const irDir = join(tempDir('llmc-ir-'), 'ir');
    const r = await buildEngine({ modelDir: dir, outDir: join(tempDir(), 'engine'), dumpIrDir: irDir });
    expect(r.manifest.model).toMatchObject({ norm_position: 'post', final_norm: false, embedding_dim: 32, hidden_size: 64 });
    const names = nodeNames(inputIr(irDir));
    expect(names.slice(0, 3)).toEqual(['embed', 'proj_in', 'pos_embed']);
    expect(names.slice(-3)).toEqual(['logit_rows', 'proj_out', 'logits']);
    expect(names).not.toContain('final_norm');
    const l0 = names.filter((n) => n.startsWith('l0.'));
    expect(l0.indexOf('l0.attn_norm')).toBeGreaterThan(l0.indexOf('l0.attn_residual'));
    expect(l0.indexOf('l0.up')).toBeGreaterThan(l0.indexOf('l0.attn_norm'));
    expect(l0[l0.length - 1]).toBe('l0.out');                               // mlp_norm(x1 + mlp(x1)), named l0.out
  });
});
