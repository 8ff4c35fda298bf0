// Tensor parallelism (Megatron-LM's split), one rank's graph from the whole model's:
//   column-parallel  q/k/v (fused or not), gate/up, fc1: each rank computes some output columns of the linear,
//                    whole heads for attention; the weight keeps only those rows (rows() of the checkpoint tensor,
//                    so the writer streams just this rank's slice). KV heads are split when tp divides them and
//                    replicated (each rank holds the one kv head its query heads read) when tp is a multiple.
//   row-parallel     o_proj, down/fc2: the input is this rank's columns, the weight keeps the matching input
//                    columns; the output is a partial sum. The bias is kept on tensor-parallel rank 0 only, so the
//                    sum adds it once.
//   all_reduce       inserted where a partial sum is first read by something other than `add` of two partial
//                    sums: a parallel-residual block (GPT-J, NeoX, Falcon, Phi) reduces attn + mlp once per layer.
//   vocab-parallel   the embedding becomes embedding_shard over this rank's rows of the table (+ all_reduce), the
//                    LM head keeps the same rows and all_gather joins the logits' columns.
// ALiBi slopes keep this rank's heads; rope frequencies are per dimension, the same on every rank.
//
// Which columns a rank holds is tracked per activation as ranges of the whole activation's columns. Attention
// seeds its q/k/v ranges by heads and a linear reading an element-wise op seeds an even split of its input; the
// ranges flow back through rope, element-wise ops and split to the linears that make them (column-parallel).
// Anything else reading a split activation is a compiler error naming the node.
import { cloneGraph, nextActId, removeUnusedValues, type Graph, type Node, type Weight } from '../compiler/ir/graph.js';
import { concat, constant, rows, transpose, type WeightSource } from '../compiler/ir/weight-source.js';
import { fail } from '../errors.js';

type Range = [start: number, count: number];

const ELEMENTWISE = new Set(['activation', 'gated_activation', 'mul', 'rope']);

export interface TensorShardInfo { numHeads: number; numKvHeads: number; vocabStart: number; vocabSize: number }

/** Vocabulary rows of tensor-parallel rank r: the parts differ by at most one row. */
export function vocabPart(vocab: number, tp: number, r: number): Range {
  const start = Math.floor((vocab * r) / tp);
  return [start, Math.floor((vocab * (r + 1)) / tp) - start];
}

export function shardTensor(input: Graph, tp: number, r: number): { g: Graph; info: TensorShardInfo } {
  const g = cloneGraph(input);
  const producer = new Map<number, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const held = new Map<number, Range[]>();   // activation id -> its columns on this rank
  const info: TensorShardInfo = { numHeads: 0, numKvHeads: 0, vocabStart: 0, vocabSize: 0 };
  const bad = (n: Node, why: string): never => { throw new Error(`shard (tp ${tp}): node ${n.name} (${n.op}): ${why}`); };
  const unsupported = (n: Node, why: string, fix: string): never =>
    fail('UNSUPPORTED', `--tp-size ${tp} cannot split the quantized linear ${n.name}: ${why}`, fix);

  // ---- 1. seeds and backward flow: which columns each activation keeps
  const want = (id: number, ranges: Range[], by: Node): void => {
    const old = held.get(id);
    if (old) {
      if (JSON.stringify(old) !== JSON.stringify(ranges)) bad(by, `%${id} is wanted with columns ${JSON.stringify(ranges)} and ${JSON.stringify(old)}`);
      return;
    }
    held.set(id, ranges);
    const p = producer.get(id);
    if (!p) return bad(by, `%${id} has no producer`);
    if (p.op === 'linear' || p.op === 'linear_q') return;                     // column-parallel: stops here
    if (ELEMENTWISE.has(p.op)) {
      for (const x of p.inputs) if (x?.kind === 'act') want(x.id, ranges, p);
      return;
    }
    if (p.op === 'split') {
      // The input keeps every output's columns, shifted by the output's offset, in output order (so the split
      // stays a split). It is known once every output is seeded (q, k and v of one attention come together).
      if (p.outputs.some((o) => !held.has(o))) return;
      const sizes = p.attrs.sizes as number[];
      const all: Range[] = [];
      p.outputs.forEach((o, i) => {
        const off = sizes.slice(0, i).reduce((a, b) => a + b, 0);
        for (const [s, c] of held.get(o)!) all.push([off + s, c]);
      });
      want((p.inputs[0] as { id: number }).id, all, p);
      return;
    }
    bad(p, `its output %${id} would be split across ranks, and ${p.op} cannot be`);
  };

  for (const n of g.nodes) {
    if (n.op === 'attention') {
      const [H, KV, D] = [n.attrs.num_heads as number, n.attrs.num_kv_heads as number, n.attrs.head_dim as number];
      const hq = H / tp;
      const kvl = Math.max(1, KV / tp);
      const kv0 = Math.floor((r * hq) / (H / KV));                            // the kv head this rank's first q head reads
      const [q, k, v] = n.inputs.map((x) => (x as { id: number }).id);
      want(q, [[r * hq * D, hq * D]], n);
      want(k, [[kv0 * D, kvl * D]], n);
      want(v, [[kv0 * D, kvl * D]], n);
      held.set(n.outputs[0], [[r * hq * D, hq * D]]);                       // o_proj reads it row-parallel
      info.numHeads = hq;
      info.numKvHeads = kvl;
    } else if ((n.op === 'linear' || n.op === 'linear_q') && n.inputs[0]?.kind === 'act') {
      const x = g.acts.get(n.inputs[0].id)!;
      const p = producer.get(x.id);
      if (p && (p.op === 'activation' || p.op === 'gated_activation' || p.op === 'mul')) {
        want(x.id, [[(r * x.width) / tp, x.width / tp]], n);                // the MLP's hidden width (fc1/gate/up -> fc2/down)
      }
    }
  }
  // A split whose outputs were only partly seeded cannot be cut.
  for (const n of g.nodes) {
    if (n.op !== 'split') continue;
    const seeded = n.outputs.filter((o) => held.has(o)).length;
    if (seeded > 0 && seeded < n.outputs.length) bad(n, 'only some of its outputs would be split across ranks');
  }

  // ---- 2. forward rewrite
  const sliced = new Map<string, string>();   // weight name -> how this rank slices it (one way per weight)
  const setWeight = (w: Weight, how: string, shape: number[], source: WeightSource, by: Node) => {
    const old = sliced.get(w.name);
    if (old !== undefined && old !== how) bad(by, `weight @${w.name} would be sliced two ways (${old} and ${how})`);
    if (old === undefined) g.weights.set(w.name, { ...w, shape, source });
    sliced.set(w.name, how);
  };
  const sliceRows = (name: string, rs: Range[], by: Node) => {
    const w = input.weights.get(name)!;
    const n = rs.reduce((a, [, c]) => a + c, 0);
    setWeight(w, `rows ${JSON.stringify(rs)}`, [n, ...w.shape.slice(1)], rowsOf(w.source, rs), by);
  };
  const sliceCols = (name: string, rs: Range[], by: Node) => {
    const w = input.weights.get(name)!;
    const n = rs.reduce((a, [, c]) => a + c, 0);
    setWeight(w, `cols ${JSON.stringify(rs)}`, [w.shape[0], n], flip(rowsOf(flip(w.source), rs)), by);
  };
  const local = (rs: Range[]) => rs.reduce((a, [, c]) => a + c, 0);
  const partial = new Set<number>();          // activations that are this rank's share of a sum
  const summable = new Set<number>();         // partial sums an add may combine before the reduction
  const reduced = new Map<number, number>();  // partial id -> its all_reduce output
  let nextId = nextActId(g);
  const out: Node[] = [];
  const reduce = (id: number): number => {
    const done = reduced.get(id);
    if (done !== undefined) return done;
    const a = g.acts.get(id)!;
    const rid = nextId++;
    g.acts.set(rid, { id: rid, name: `${a.name}.all_reduce`, rows: a.rows, width: a.width });
    out.push({ op: 'all_reduce', name: `${a.name}.all_reduce`, inputs: [{ kind: 'act', id }], outputs: [rid], attrs: {} });
    reduced.set(id, rid);
    return rid;
  };
  const V = vocabTable(g);
  const [v0, vn] = vocabPart(V, tp, r);
  /** The LM head keeps this rank's vocabulary rows ([logit_rows, vn]); all_gather joins every rank's columns. */
  const vocabParallelHead = (n: Node): void => {
    const logits = g.acts.get(n.outputs[0])!;
    logits.width = vn;
    logits.shard = { cols: [[v0, vn]] };
    out.push(n);
    const gid = nextId++;
    g.acts.set(gid, { id: gid, name: `${logits.name}.all_gather`, rows: logits.rows, width: V });
    out.push({ op: 'all_gather', name: `${logits.name}.all_gather`, inputs: [{ kind: 'act', id: n.outputs[0] }], outputs: [gid],
      attrs: { sizes: Array.from({ length: tp }, (_, k) => vocabPart(V, tp, k)[1]) } });
    g.outputs.logits = gid;
  };
  info.vocabStart = v0;
  info.vocabSize = vn;

  for (const n0 of g.nodes) {
    const n: Node = { ...n0, inputs: [...n0.inputs], attrs: { ...n0.attrs } };
    // Partial sums reach an add of two partial sums as they are, anything else reduced.
    const partIn = n.inputs.map((x) => x?.kind === 'act' && partial.has(x.id));
    // (Only sums of row-parallel outputs: the embedding is reduced at once, so the residual stream is whole and
    // a pipeline stage sends one tensor.)
    const sumOfPartials = n.op === 'add' && partIn[0] && partIn[1] && n.inputs.every((x) => summable.has((x as { id: number }).id));
    if (!sumOfPartials) {
      n.inputs = n.inputs.map((x, i) => (partIn[i] ? { kind: 'act', id: reduce((x as { id: number }).id) } : x));
    }
    const xIn = n.inputs[0]?.kind === 'act' ? n.inputs[0].id : -1;
    const outRanges = held.get(n.outputs[0]);
    switch (n.op) {
      case 'linear': {
        const wName = (n.inputs[1] as { name: string }).name;
        const bName = n.inputs[2]?.kind === 'weight' ? n.inputs[2].name : null;
        if (outRanges) {                                                       // column-parallel
          sliceRows(wName, outRanges, n);
          if (bName) sliceRows(bName, outRanges, n);
        } else if (held.has(xIn)) {                                            // row-parallel
          sliceCols(wName, held.get(xIn)!, n);
          if (bName && r !== 0) n.inputs = n.inputs.slice(0, 2);
          partial.add(n.outputs[0]);
          summable.add(n.outputs[0]);
        } else if (n.outputs[0] === g.outputs.logits) {                        // vocab-parallel LM head
          sliceRows(wName, [[v0, vn]], n);
          if (bName) sliceRows(bName, [[v0, vn]], n);
          vocabParallelHead(n);
          continue;
        }
        break;
      }
      case 'linear_q': {
        // Quantized: qweight [out, in], scales / offsets [out, in / group_size], bias [out], perm [in].
        const name = (k: number) => (n.inputs[k]?.kind === 'weight' ? (n.inputs[k] as { name: string }).name : null);
        const [q, sc, off, bias, perm] = [name(1)!, name(2)!, name(3), name(4), name(5)];
        const G = n.attrs.group_size as number;
        const rowsOut = (rs: Range[]) => {
          for (const w of [q, sc, off, bias]) if (w) sliceRows(w, rs, n);
        };
        if (outRanges || n.outputs[0] === g.outputs.logits) {
          const rs = outRanges ?? [[v0, vn]];
          rowsOut(rs);
          if (!outRanges) {                                                    // vocab-parallel LM head (--quantize-lm-head)
            vocabParallelHead(n);
            continue;
          }
        } else if (held.has(xIn)) {                                            // row-parallel
          const rs = held.get(xIn)!;
          const inWhole = input.weights.get(q)!.shape[1];
          if (perm) unsupported(n, 'its input columns are permuted (GPTQ act-order)', 'shard this checkpoint with --pp-size only (stages keep whole linears)');
          sliceCols(q, rs, n);
          if (G === inWhole) {
            n.attrs.group_size = local(rs);                                    // one scale per row: the same on every rank
          } else {
            if (rs.some(([s, c]) => s % G !== 0 || c % G !== 0)) unsupported(n, `each rank's share of its ${inWhole} input columns is not a whole number of its groups of ${G}`,
              'use another --tp-size or a smaller --group-size, or shard with --pp-size only');
            const groups = rs.map(([s, c]): Range => [s / G, c / G]);
            for (const w of [sc, off]) if (w) sliceCols(w, groups, n);
          }
          if (bias && r !== 0) {                                               // the bias once: on tp rank 0
            n.inputs = n.inputs.slice(0, 4);
            while (n.inputs.length > 0 && n.inputs[n.inputs.length - 1] === null) n.inputs.pop();
          }
          partial.add(n.outputs[0]);
          summable.add(n.outputs[0]);
        }
        break;
      }
      case 'embedding': {
        const t = (n.inputs[0] as { name: string }).name;
        sliceRows(t, [[v0, vn]], n);
        n.op = 'embedding_shard';
        n.attrs = { scale: n.attrs.scale, vocab_start: v0 };
        partial.add(n.outputs[0]);
        break;
      }
      case 'rope':
        if (outRanges) n.attrs.num_heads = local(outRanges) / (n.attrs.head_dim as number);
        break;
      case 'split':
        if (outRanges) n.attrs.sizes = n.outputs.map((o) => local(held.get(o)!));
        break;
      case 'attention': {
        n.attrs.num_heads = info.numHeads;
        n.attrs.num_kv_heads = info.numKvHeads;
        const alibi = n.inputs[3];
        if (alibi?.kind === 'weight') sliceRows(alibi.name, [[r * info.numHeads, info.numHeads]], n);
        break;
      }
      case 'add':
        if (sumOfPartials) {
          partial.add(n.outputs[0]);
          summable.add(n.outputs[0]);
        }
        else if (n.inputs.some((x) => x?.kind === 'act' && held.has(x.id))) bad(n, 'adds columns split across ranks');
        break;
      default:
        if (!ELEMENTWISE.has(n.op) && n.inputs.some((x) => x?.kind === 'act' && held.has(x.id))) bad(n, 'reads columns split across ranks');
    }
    for (const o of n.outputs) if (held.has(o)) g.acts.get(o)!.width = local(held.get(o)!);
    out.push(n);
  }
  if (partial.has(g.outputs.logits)) g.outputs.logits = reduce(g.outputs.logits);
  g.nodes = out;
  // Which part of the whole model's value each activation is (llmc verify maps this rank's values with it).
  for (const [id, rs] of held) {
    const a = g.acts.get(id);
    if (a) a.shard = { cols: rs.map(([s, c]): Range => [s, c]) };
  }
  for (const id of partial) g.acts.get(id)!.shard = { partial: true };
  removeUnusedValues(g);                      // biases the other tensor-parallel ranks do not add
  return { g, info };
}

/** Rows of the embedding table (the vocabulary the LM head's logits cover). */
function vocabTable(g: Graph): number {
  const emb = g.nodes.find((n) => n.op === 'embedding');
  if (!emb) throw new Error('shard: the graph has no embedding');
  return g.weights.get((emb.inputs[0] as { name: string }).name)!.shape[0];
}

function rowsOf(src: WeightSource, rs: Range[]): WeightSource {
  const merged: Range[] = [];
  for (const [s, c] of rs) {
    const last = merged[merged.length - 1];
    if (last && last[0] + last[1] === s) last[1] += c;
    else merged.push([s, c]);
  }
  const part = ([s, c]: Range) => (src.op === 'const' ? constant(src.values.slice(s, s + c)) : rows(src, s, c));
  return merged.length === 1 ? part(merged[0]) : concat(...merged.map(part));
}

/** transpose, undoing a transpose already there (Conv1D checkpoints store [in, out]). */
function flip(src: WeightSource): WeightSource {
  return src.op === 'transpose' ? src.src : transpose(src);
}

