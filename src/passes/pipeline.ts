// The pass pipeline, in order. Each pass is pure IR -> IR (src/passes/<name>.ts); the verifier runs after every
// one (and on the input), so a pass that breaks the graph is named at once.
import type { Graph } from '../compiler/ir/graph.js';
import { verify } from '../compiler/ir/verify.js';
import { canonicalize } from './canonicalize.js';
import { fuseGatedActivation } from './fuse-gated-activation.js';
import { fuseSiblingLinears } from './fuse-sibling-linears.js';
import type { Pass } from './pass.js';
import { planMemory } from './plan-memory.js';

export interface PipelineOptions {
  fuse?: boolean;        // default true; false keeps the graph as the layer builders wrote it (debugging)
}

export function buildPipeline(opts: PipelineOptions = {}): Pass[] {
  const fuse = opts.fuse ?? true;
  return [
    // ---- Phase 1. Clean up what the layer builders wrote.
    canonicalize,
    // ---- Phase 2. Fusion on the op graph (weights are re-laid out by the engine writer, not here).
    ...(fuse ? [fuseGatedActivation, fuseSiblingLinears, canonicalize] : []),
    // ---- Phase 3. Weight transforms: quantize (w8a16, w4a16-group, ...) goes here.
    // ---- Phase 4. Parallelism: shard (tensor-parallel colwise/rowwise + all-reduce, pipeline stages) goes here.
    // ---- Phase 5. Memory: arena offsets for every activation. Must stay last: any change to nodes invalidates it.
    planMemory,
  ];
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
