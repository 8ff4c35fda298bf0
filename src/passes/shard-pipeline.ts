// Pipeline parallelism: contiguous stages of layers, balanced by weight bytes, and the cut of one rank's graph.
//   stage s holds layers [first, first + count); the embedding (nodes before layer 0) goes with stage 0, the
//   final norm and LM head (nodes after the last layer) with the last stage. Layer membership is the node name's
//   `l<i>.` prefix, which every layer builder uses (layers/decoder.ts).
//   An activation a stage reads but an earlier stage makes (the residual stream) is sent by the maker at the end
//   of its stage and received at the start of the reader's: same tensor-parallel rank, pp_rank * tp + tp_rank.
//   The last stage's logits go to rank 0, which samples (its graph ends with a recv).
// Every stage's sends are at its end and every recv at its start, in one order both sides compute, so the
// blocking sends and receives always pair up without a deadlock.
import { NO_LOGITS, removeUnusedValues, weightBytes, type Graph, type Node } from '../compiler/ir/graph.js';

const LAYER_RE = /^l(\d+)\./;

export function layerOf(n: Node): number | null {
  const m = LAYER_RE.exec(n.name);
  return m ? Number(m[1]) : null;
}

/**
 * Weight bytes per layer, plus what goes before layer 0 and after the last. A weight counts once per region that
 * reads it: a tied embedding is held by the first stage (lookup) and by the last (LM head).
 */
export function layerBytes(g: Graph): { layers: number[]; pre: number; post: number } {
  const numLayers = 1 + Math.max(-1, ...g.nodes.map((n) => layerOf(n) ?? -1));
  const layers = new Array<number>(numLayers).fill(0);
  let [pre, post] = [0, 0];
  const seen = { pre: new Set<string>(), layers: new Set<string>(), post: new Set<string>() };
  let sawLayer = false;
  for (const n of g.nodes) {
    const l = layerOf(n);
    if (l !== null) sawLayer = true;
    const region = l !== null ? seen.layers : sawLayer ? seen.post : seen.pre;
    for (const x of n.inputs) {
      if (x?.kind !== 'weight' || region.has(x.name)) continue;
      region.add(x.name);
      const b = weightBytes(g.weights.get(x.name)!);
      if (l !== null) layers[l] += b;
      else if (sawLayer) post += b;
      else pre += b;
    }
  }
  return { layers, pre, post };
}

/**
 * Splits layers into pp contiguous stages minimising the largest stage's bytes (pre counted on stage 0, post on
 * the last); returns each stage's first layer, plus the total (one past the last layer) at the end.
 */
export function balanceStages(bytes: { layers: number[]; pre: number; post: number }, pp: number): number[] {
  const L = bytes.layers.length;
  if (pp > L) throw new Error(`pipeline: ${pp} stages for ${L} layers`);
  const prefix = [0];
  for (const b of bytes.layers) prefix.push(prefix[prefix.length - 1] + b);
  const cost = (s: number, a: number, b: number) => prefix[b] - prefix[a] + (s === 0 ? bytes.pre : 0) + (s === pp - 1 ? bytes.post : 0);
  // best[s][i]: the smallest max-stage cost placing layers [0, i) on stages 0..s-1 (s stages, each non-empty).
  const best = Array.from({ length: pp + 1 }, () => new Array<number>(L + 1).fill(Infinity));
  const cut = Array.from({ length: pp + 1 }, () => new Array<number>(L + 1).fill(0));
  best[0][0] = 0;
  for (let s = 1; s <= pp; s++) {
    for (let i = s; i <= L - (pp - s); i++) {
      for (let j = s - 1; j < i; j++) {
        const c = Math.max(best[s - 1][j], cost(s - 1, j, i));
        if (c < best[s][i]) [best[s][i], cut[s][i]] = [c, j];    // ties keep the earliest cut: stable
      }
    }
  }
  const starts = [L];
  for (let s = pp, i = L; s > 0; s--) {
    i = cut[s][i];
    starts.unshift(i);
  }
  return starts;
}

/** Keeps stage p's nodes of a (tensor-sharded) graph and adds its sends and receives. */
export function cutStage(input: Graph, starts: number[], p: number, tp: number, tpRank: number): Graph {
  const pp = starts.length - 1;
  const stageOf = new Map<Node, number>();
  let sawLayer = false;
  for (const n of input.nodes) {
    const l = layerOf(n);
    if (l !== null) sawLayer = true;
    const s = l === null ? (sawLayer ? pp - 1 : 0) : starts.findIndex((_, k) => l >= starts[k] && l < starts[k + 1]);
    stageOf.set(n, s);
  }
  const definedIn = new Map<number, number>();
  for (const n of input.nodes) for (const o of n.outputs) definedIn.set(o, stageOf.get(n)!);
  // Crossings in the order the readers first use them: one (act, from, to) each.
  const crossings: { id: number; from: number; to: number }[] = [];
  const seen = new Set<string>();
  for (const n of input.nodes) {
    const to = stageOf.get(n)!;
    for (const x of n.inputs) {
      if (x?.kind !== 'act') continue;
      const from = definedIn.get(x.id)!;
      if (from === to || seen.has(`${x.id}>${to}`)) continue;
      if (from > to) throw new Error(`pipeline: node ${n.name} (stage ${to}) reads %${x.id} made by the later stage ${from}`);
      seen.add(`${x.id}>${to}`);
      crossings.push({ id: x.id, from, to });
    }
  }
  const rankOf = (stage: number) => stage * tp + tpRank;
  const g: Graph = { ...input, weights: new Map(input.weights), acts: new Map(input.acts), outputs: { ...input.outputs } };
  const recvs: Node[] = crossings.filter((c) => c.to === p).sort((a, b) => a.from - b.from).map((c) => {
    const a = g.acts.get(c.id)!;
    return { op: 'recv', name: `${a.name}.recv`, inputs: [], outputs: [c.id], attrs: { peer: rankOf(c.from), width: a.width, rows: a.rows } };
  });
  const sends: Node[] = crossings.filter((c) => c.from === p).sort((a, b) => a.to - b.to).map((c) => ({
    op: 'send', name: `${g.acts.get(c.id)!.name}.send${c.to}`, inputs: [{ kind: 'act', id: c.id }], outputs: [], attrs: { peer: rankOf(c.to) },
  }));
  const own = input.nodes.filter((n) => stageOf.get(n) === p).map((n) => {
    if (n.op !== 'attention') return n;
    return { ...n, attrs: { ...n.attrs, layer: (n.attrs.layer as number) - starts[p] } };  // this stage's KV layers from 0
  });
  g.nodes = [...recvs, ...own, ...sends];

  // Logits: made on the last stage, sampled on rank 0.
  const last = pp - 1;
  const logits = input.outputs.logits;
  if (p === last && tpRank === 0 && logits !== NO_LOGITS) {
    g.nodes.push({ op: 'send', name: 'logits.send0', inputs: [{ kind: 'act', id: logits }], outputs: [], attrs: { peer: 0 } });
  }
  if (p === 0 && tpRank === 0) {
    const a = input.acts.get(logits)!;
    g.nodes.push({ op: 'recv', name: 'logits.recv', inputs: [], outputs: [logits], attrs: { peer: rankOf(last), width: a.width, rows: a.rows } });
    g.outputs.logits = logits;
  } else {
    g.outputs.logits = NO_LOGITS;
  }
  removeUnusedValues(g);
  return g;
}
