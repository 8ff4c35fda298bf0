// The IR verifier. Runs after graph construction and after every pass; a failure is a compiler bug, so it throws
// VerifyError (not an LlmcError) naming the failing node or value, e.g.
//   IR verify (after fuse_sibling_linears): node l0.q (linear): weight @l0.q.weight [64,32] has 32 in-features, x has width 64
import { OPS, type OpName } from './ops.generated.js';
import { inferOutputs, OpRuleError } from './op-rules.js';
import { NO_LOGITS, WEIGHT_DTYPES, type Graph, type Rows } from './graph.js';
import { liveRanges, rangesOverlap } from './liveness.js';

export class VerifyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyError';
  }
}

const NEVER_DEAD = new Set<string>(['attention', 'all_reduce', 'all_gather', 'send', 'recv']);

export const NAME_RE = /^[A-Za-z0-9_.\-]+$/;

export function verify(g: Graph, stage?: string): void {
  const prefix = stage ? `IR verify (${stage}): ` : 'IR verify: ';
  const fail: (msg: string) => never = (msg) => {
    throw new VerifyError(prefix + msg);
  };

  // ---- values
  const names = new Set<string>();
  const claim = (name: string, what: string) => {
    if (!NAME_RE.test(name)) fail(`${what} has an invalid name ${JSON.stringify(name)}`);
    if (names.has(name)) fail(`two values are named ${name}`);
    names.add(name);
  };
  for (const [key, w] of g.weights) {
    if (key !== w.name) fail(`weight table key ${key} holds weight @${w.name}`);
    claim(w.name, `weight @${w.name}`);
    if (!WEIGHT_DTYPES.includes(w.dtype)) fail(`weight @${w.name} has dtype ${w.dtype} (expected ${WEIGHT_DTYPES.join('|')})`);
    if (w.shape.length < 1 || w.shape.length > 2 || w.shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      fail(`weight @${w.name} has shape [${w.shape}] (expected 1-D or 2-D, positive dims)`);
    }
  }
  for (const [key, a] of g.acts) {
    if (key !== a.id) fail(`activation table key ${key} holds %${a.id}`);
    claim(a.name, `activation %${a.id}`);
    if (a.rows !== 'tokens' && a.rows !== 'logit_rows') fail(`activation %${a.id} (${a.name}) has rows ${a.rows}`);
    if (!Number.isInteger(a.width) || a.width <= 0) fail(`activation %${a.id} (${a.name}) has width ${a.width}`);
  }

  // ---- nodes, in order
  const defined = new Set<number>();
  const definedBy = new Map<number, string>();
  const nodeNames = new Set<string>();
  const usedActs = new Set<number>();
  const usedWeights = new Set<string>();
  const layers = new Map<number, string>();
  g.nodes.forEach((n, i) => {
    const where = `node ${n.name} (${n.op}, #${i})`;
    if (!NAME_RE.test(n.name)) fail(`node #${i} has an invalid name ${JSON.stringify(n.name)}`);
    if (nodeNames.has(n.name)) fail(`two nodes are named ${n.name}`);
    nodeNames.add(n.name);
    if (!(n.op in OPS)) fail(`${where}: unknown op '${n.op}'`);
    if (n.inputs.length > 0 && n.inputs[n.inputs.length - 1] === null) fail(`${where}: trailing absent inputs must be omitted`);
    for (const x of n.inputs) {
      if (x?.kind === 'act') {
        if (!defined.has(x.id)) {
          fail(g.acts.has(x.id) ? `${where}: reads %${x.id} before it is defined (nodes are not in topological order)`
            : `${where}: reads %${x.id}, which is not defined`);
        }
        usedActs.add(x.id);
      } else if (x?.kind === 'weight') {
        usedWeights.add(x.name);
      }
    }
    let types;
    try {
      types = inferOutputs(n, { weight: (name) => g.weights.get(name), act: (id) => (defined.has(id) ? g.acts.get(id) : undefined), mapping: g.mapping });
    } catch (e) {
      if (e instanceof OpRuleError) fail(`${where}: ${e.message}`);
      throw e;
    }
    const variadic = OPS[n.op as OpName].outputs.some((o) => o.variadic);
    if (n.outputs.length !== types.length) fail(`${where}: has ${n.outputs.length} outputs, expected ${types.length}${variadic ? ' (one per size)' : ''}`);
    n.outputs.forEach((id, k) => {
      const a = g.acts.get(id);
      if (!a) fail(`${where}: output %${id} is not in the activation table`);
      if (defined.has(id)) fail(`${where}: output %${id} is already defined by node ${definedBy.get(id)}`);
      if (a.rows !== types[k].rows || a.width !== types[k].width) {
        fail(`${where}: output %${id} (${a.name}) is [${a.rows},${a.width}], the op makes [${types[k].rows},${types[k].width}]`);
      }
      defined.add(id);
      definedBy.set(id, n.name);
    });
    if (n.op === 'attention') {
      const layer = n.attrs.layer as number;
      if (layers.has(layer)) fail(`${where}: layer ${layer} is also used by node ${layers.get(layer)} (each attention owns one KV-cache layer)`);
      layers.set(layer, n.name);
    }
  });

  // ---- whole-graph properties
  if (g.outputs.logits === NO_LOGITS) {
    if (!g.mapping || g.mapping.rank === 0) fail('output logits = none is only for ranks other than 0 of a sharded engine (rank 0 samples)');
  } else {
    const out = g.acts.get(g.outputs.logits);
    if (!out || !defined.has(g.outputs.logits)) fail(`output logits %${g.outputs.logits} is not defined`);
    if (out.rows !== 'logit_rows') fail(`output logits %${out.id} (${out.name}) must have rows 'logit_rows'`);
    usedActs.add(out.id);
  }
  for (const a of g.acts.values()) if (!defined.has(a.id)) fail(`activation %${a.id} (${a.name}) is defined by no node`);
  // Dead code: a node none of whose outputs is read (one unread block of a split is fine while another is read).
  // attention is never dead: it writes the KV cache; nor are the communication ops: peers wait for them.
  for (const n of g.nodes) {
    if (!NEVER_DEAD.has(n.op) && !n.outputs.some((o) => usedActs.has(o))) {
      const a = g.acts.get(n.outputs[0])!;
      fail(`activation %${a.id} (${a.name}) is dead: no node reads it and it is not an output`);
    }
  }
  for (const w of g.weights.values()) if (!usedWeights.has(w.name)) fail(`weight @${w.name} is used by no node`);

  if (g.arena) verifyArena(g, fail);
  else for (const a of g.acts.values()) if (a.arenaOffset !== undefined) fail(`activation %${a.id} (${a.name}) has an arena offset but the graph has no arena`);
}

// Each arena on its own: every activation inside its row kind's arena (token arena: floats_per_token, logits arena:
// logit_floats_per_row), and no two live at the same time sharing floats of the same arena.
function verifyArena(g: Graph, fail: (msg: string) => never): void {
  const widths: Record<Rows, { key: string; width: number }> = {
    tokens: { key: 'floats_per_token', width: g.arena!.floatsPerToken },
    logit_rows: { key: 'logit_floats_per_row', width: g.arena!.logitFloatsPerRow },
  };
  for (const { key, width } of Object.values(widths)) {
    if (!Number.isInteger(width) || width < 0) fail(`arena ${key} ${width} is not a non-negative integer`);
  }
  const live = liveRanges(g);
  for (const rows of ['tokens', 'logit_rows'] as const) {
    const { key, width } = widths[rows];
    const arena = rows === 'tokens' ? 'token arena' : 'logits arena';
    const acts = [...g.acts.values()].filter((a) => a.rows === rows);
    for (const a of acts) {
      const off = a.arenaOffset;
      if (off === undefined || !Number.isInteger(off) || off < 0) fail(`activation %${a.id} (${a.name}) has no arena offset`);
      if (off + a.width > width) fail(`activation %${a.id} (${a.name}) at ${arena} [${off}, ${off + a.width}) exceeds ${key} ${width}`);
    }
    // Sort by offset so only neighbours in the arena need comparing against each other's lifetimes.
    acts.sort((x, y) => x.arenaOffset! - y.arenaOffset!);
    for (let i = 0; i < acts.length; i++) {
      const a = acts[i];
      for (let j = i + 1; j < acts.length && acts[j].arenaOffset! < a.arenaOffset! + a.width; j++) {
        const b = acts[j];
        if (rangesOverlap(live.get(a.id)!, live.get(b.id)!)) {
          fail(`activations %${a.id} (${a.name}) at [${a.arenaOffset}, ${a.arenaOffset! + a.width}) and %${b.id} (${b.name}) at ` +
            `[${b.arenaOffset}, ${b.arenaOffset! + b.width}) overlap in the ${arena} while both are live`);
        }
      }
    }
  }
}
