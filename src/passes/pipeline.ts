// The pass pipeline, in order. Each pass is pure IR -> IR (src/passes/<name>.ts); the verifier runs after every
// one (and on the input), so a pass that breaks the graph is named at once.
import type { Graph } from '../compiler/ir/graph.js';
import { verify } from '../compiler/ir/verify.js';
import { canonicalize } from './canonicalize.js';
import { fuseAddNorm } from './fuse-add-norm.js';
import { fuseGatedActivation } from './fuse-gated-activation.js';
import { fuseLinearActivation } from './fuse-linear-activation.js';
import { fuseLinearRope } from './fuse-linear-rope.js';
import { fuseSiblingLinears } from './fuse-sibling-linears.js';
import type { Pass } from './pass.js';
import { planMemory } from './plan-memory.js';
import { quantizePass, type QuantizeOptions } from './quantize.js';
import { shardPass, type ShardOptions } from './shard.js';

export interface PipelineOptions {
  fuse?: boolean;        // default true; false keeps the graph as the layer builders wrote it (debugging)
  fuseRope?: boolean;    // default true (with fuse); false keeps rope as separate ops (llmc build --no-fuse-rope)
  /** Weight quantization (llmc build --quantize) and pre-quantized checkpoint modules; absent: no quantize pass. */
  quantize?: QuantizeOptions;
  shard?: ShardOptions;  // one rank of a tp x pp engine (absent or 1 x 1: no shard pass)
}

export function buildPipeline(opts: PipelineOptions = {}): Pass[] {
  const fuse = opts.fuse ?? true;
  const fuseRope = fuse && (opts.fuseRope ?? true);
  const sharded = opts.shard !== undefined && opts.shard.tp * opts.shard.pp > 1;
  return [
    // ---- Phase 1. Clean up what the layer builders wrote.
    canonicalize,
    // ---- Phase 2. Weight transforms: quantize (linear -> linear_q: int8 / int4 / fp8, or a pre-quantized
    //      checkpoint's own codes). Before fusion, so each checkpoint module keeps its own quantization metadata
    //      and fusion joins only siblings quantized alike.
    ...(quantizeNeeded(opts.quantize) ? [quantizePass(opts.quantize!)] : []),
    // ---- Phase 3. Fusion on the op graph (weights are re-laid out by the engine writer, not here).
    ...(fuse ? [fuseGatedActivation, fuseSiblingLinears] : []),
    // ---- Phase 4. Parallelism: one rank's graph (tensor-parallel colwise/rowwise + all-reduce, pipeline stage).
    ...(sharded ? [canonicalize, shardPass(opts.shard!)] : []),
    // ---- Phase 4b. Epilogue fusions, on the one rank's graph: fuse_add_norm and fuse_linear_activation save a pass
    //      over memory each (docs/cpu-kernels.md, "Fusions"). After sharding, so a row-parallel linear's all_reduce
    //      sits between it and the residual add, and the shard pass only sees plain linears and norms.
    //      fuse_linear_rope rotates q and k in the qkv projection's epilogue; after sharding, so a rank's linear
    //      rotates its own heads (the rope attrs the shard pass set).
    ...(fuse ? [fuseAddNorm, fuseLinearActivation, ...(fuseRope ? [fuseLinearRope] : []), canonicalize] : []),
    // ---- Phase 5. Memory: arena offsets for every activation. Must stay last: any change to nodes invalidates it.
    planMemory,
  ];
}

function quantizeNeeded(q: QuantizeOptions | undefined): boolean {
  return q !== undefined && (q.scheme !== undefined || (q.packed?.size ?? 0) > 0);
}

/** Runs the passes, verifying the input and every result; `after` sees each intermediate graph (IR dumps). */
export function runPipeline(g: Graph, passes: Pass[], after?: (index: number, pass: Pass, g: Graph) => void): Graph {
  verify(g, 'pipeline input');
  passes.forEach((p, i) => {
    g = p.run(g);
    verify(g, `after ${p.name}`);
    after?.(i, p, g);
  });
  return g;
}
