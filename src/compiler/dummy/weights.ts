// The weight table of a dummy-weight build: every target the family's weight map names (so the graph has the
// weights a real checkpoint of this config would give it: biases, tied or separate LM head, fused layouts), each a
// dummy source of exactly the shape the layer builders ask for. No checkpoint tensors exist, so the family's
// source expressions (transposes, per-head reorders) are not evaluated; config normalisation, the graph, its
// verifier and the passes run as for a real build.
import type { LoadedModel } from '../models/load.js';
import { WeightTable, type MappedWeight } from '../models/weight-map.js';
import { dummy } from '../ir/weight-source.js';
import { dummyInitFor } from './init.js';

export class DummyWeightTable extends WeightTable {
  private readonly names: Set<string>;

  constructor(private readonly model: LoadedModel, private readonly seed: number) {
    super(new Map());
    this.names = new Set(model.family.weightMap(model.cfg, new Set()).entries.map((e) => e.target));
  }

  override has(target: string): boolean {
    return this.names.has(target);
  }

  override get(target: string, expected: readonly number[]): MappedWeight {
    if (!this.names.has(target)) throw new Error(`the weight map has no ${target} (family mapping and layer builders disagree)`);
    const shape = [...expected];
    return { target, shape, source: dummy(shape, dummyInitFor(target, shape, this.model.cfg), this.seed) };
  }

  override targets(): string[] {
    return [...this.names];
  }
}
