// A pass is a pure function IR -> IR: it returns a new graph and leaves its input untouched.
import type { Graph } from '../compiler/ir/graph.js';

export interface Pass {
  name: string;          // snake_case, used for dump files (NN-name.ir) and the manifest's build.passes
  run(g: Graph): Graph;
}
