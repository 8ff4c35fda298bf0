// Reads the IR text form written by print.ts (grammar in its header). Used by the pass tests, which write their
// before/after graphs as text. Parsing only builds the structure; run verify() for meaning. Errors name the line.
import type { OpName } from './ops.generated.js';
import { NO_LOGITS, type Activation, type AttrValue, type Attrs, type Graph, type Node, type Operand, type RankMapping, type Rows, type WeightDType } from './graph.js';
import type { QuantPart, WeightSource } from './weight-source.js';

export class ParseError extends Error {}

const NAME_CHAR = /[A-Za-z0-9_.\-]/;

class Cursor {
  pos = 0;
  constructor(readonly text: string, readonly line: number) {}
  err(msg: string): never {
    throw new ParseError(`IR line ${this.line}: ${msg} at column ${this.pos + 1}: ${this.text}`);
  }
  ws(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }
  peek(s: string): boolean {
    this.ws();
    return this.text.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (!this.peek(s)) return false;
    this.pos += s.length;
    return true;
  }
  expect(s: string): void {
    if (!this.eat(s)) this.err(`expected '${s}'`);
  }
  done(): boolean {
    this.ws();
    return this.pos >= this.text.length;
  }
  name(): string {
    this.ws();
    const start = this.pos;
    while (this.pos < this.text.length && NAME_CHAR.test(this.text[this.pos])) {
      if (this.text.startsWith('->', this.pos)) break;
      this.pos++;
    }
    if (this.pos === start) this.err('expected a name');
    return this.text.slice(start, this.pos);
  }
  number(): number {
    this.ws();
    const m = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(this.text.slice(this.pos));
    if (!m) this.err('expected a number');
    this.pos += m[0].length;
    return Number(m[0]);
  }
  int(): number {
    const v = this.number();
    if (!Number.isInteger(v)) this.err(`expected an integer, got ${v}`);
    return v;
  }
  string(): string {
    this.ws();
    const m = /^"(?:[^"\\]|\\.)*"/.exec(this.text.slice(this.pos));
    if (!m) this.err('expected a "string"');
    this.pos += m[0].length;
    return JSON.parse(m[0]);
  }
  /** Comma-separated items up to `close` (which is consumed). */
  list<T>(close: string, item: () => T): T[] {
    const out: T[] = [];
    if (this.eat(close)) return out;
    do out.push(item()); while (this.eat(','));
    this.expect(close);
    return out;
  }
}

export function parseGraph(text: string): Graph {
  const g: Graph = { weights: new Map(), acts: new Map(), nodes: [], outputs: { logits: -1 } };
  let sawOutput = false;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const c = new Cursor(line, i + 1);
    if (c.eat('arena ')) {
      c.expect('floats_per_token');
      c.expect('=');
      const floatsPerToken = c.int();
      c.expect('logit_floats_per_row');
      c.expect('=');
      g.arena = { floatsPerToken, logitFloatsPerRow: c.int() };
    } else if (c.eat('weight ')) {
      c.expect('@');
      const name = c.name();
      if (g.weights.has(name)) c.err(`weight @${name} declared twice`);
      c.expect(':');
      const dtype = c.name() as WeightDType;
      c.expect('[');
      const shape = c.list(']', () => c.int());
      c.expect('=');
      g.weights.set(name, { name, dtype, shape, source: parseSource(c) });
    } else if (c.eat('mapping ')) {
      const m: Record<string, number> = {};
      do {
        const k = c.name();
        c.expect('=');
        m[k] = c.int();
      } while (c.eat(','));
      g.mapping = m as unknown as RankMapping;
    } else if (c.eat('output ')) {
      c.expect('logits');
      c.expect('=');
      if (c.eat('none')) g.outputs.logits = NO_LOGITS;
      else {
        c.expect('%');
        g.outputs.logits = c.int();
      }
      sawOutput = true;
    } else {
      g.nodes.push(parseNode(c, g));
    }
    if (!c.done()) c.err('unexpected text');
  });
  if (!sawOutput) throw new ParseError('IR: missing `output logits = %N` line');
  return g;
}

function parseSource(c: Cursor): WeightSource {
  const op = c.name();
  c.expect('(');
  switch (op) {
    case 'tensor': { const name = c.string(); c.expect(')'); return { op, name }; }
    case 'transpose': { const src = parseSource(c); c.expect(')'); return { op, src }; }
    case 'concat': return { op, srcs: c.list(')', () => parseSource(c)) };
    case 'rows': {
      const src = parseSource(c);
      c.expect(',');
      const start = c.int();
      c.expect(',');
      const count = c.int();
      c.expect(')');
      return { op, src, start, count };
    }
    case 'const': return { op, values: c.list(')', () => c.number()) };
    case 'dummy': {
      const kind = c.name();
      c.expect(',');
      const param = c.number();
      c.expect(',');
      c.expect('[');
      const shape = c.list(']', () => c.int());
      c.expect(',');
      c.expect('seed');
      const seed = c.int();
      c.expect(')');
      if (kind === 'normal' || kind === 'ones') return { op, shape, init: { kind, std: param }, seed };
      if (kind === 'const') return { op, shape, init: { kind, value: param }, seed };
      return c.err(`unknown dummy kind '${kind}'`);
    }
    case 'quantize': {
      const kind = c.name();
      if (kind !== 'int8' && kind !== 'int4' && kind !== 'fp8') return c.err(`unknown quantization scheme '${kind}'`);
      c.expect(',');
      const groupSize = groupArg(c);
      c.expect(',');
      const sym = c.name();
      if (sym !== 'sym' && sym !== 'asym') return c.err(`expected sym or asym, found '${sym}'`);
      c.expect(',');
      const part = partArg(c, false) as QuantPart;
      c.expect(',');
      const src = parseSource(c);
      c.expect(')');
      return { op, scheme: { kind, groupSize, symmetric: sym === 'sym' }, part, src };
    }
    case 'scale_cols': {
      const src = parseSource(c);
      c.expect(',');
      return { op, src, values: c.list(')', () => c.number()) };
    }
    case 'packed': {
      const part = partArg(c, true);
      c.expect(',');
      const groupSize = groupArg(c);
      c.expect(',');
      const src = parseSource(c);
      c.expect(')');
      return { op, part, groupSize, src };
    }
    default: return c.err(`unknown weight source '${op}'`);
  }
}

/** `g128` */
function groupArg(c: Cursor): number {
  const t = c.name();
  const g = Number(t.slice(1));
  if (!/^g[0-9]+$/.test(t) || !(g > 0)) return c.err(`expected a group size like g128, found '${t}'`);
  return g;
}

function partArg(c: Cursor, perm: boolean): QuantPart | 'perm' {
  const p = c.name();
  if (p === 'codes' || p === 'scales' || p === 'offsets' || (perm && p === 'perm')) return p;
  return c.err(`unknown quantized part '${p}'`);
}

function parseNode(c: Cursor, g: Graph): Node {
  const outs: Activation[] = [];
  if (!c.peek('%')) return parseCall(c, g, outs);   // a node without outputs: `send(%5) {peer=1}  # name`
  do {
    c.expect('%');
    const id = c.int();
    c.expect(':');
    if (c.name() !== 'f32') c.err('activations are f32');
    c.expect('[');
    const rows = c.name() as Rows;
    c.expect(',');
    const width = c.int();
    c.expect(']');
    const a: Activation = { id, name: '', rows, width };
    if (c.eat('@')) a.arenaOffset = c.int();
    outs.push(a);
  } while (c.eat(','));
  c.expect('=');
  return parseCall(c, g, outs);
}

function parseCall(c: Cursor, g: Graph, outs: Activation[]): Node {
  const op = c.name() as OpName;
  c.expect('(');
  const inputs = c.list(')', (): Operand | null => {
    if (c.eat('%')) return { kind: 'act', id: c.int() };
    if (c.eat('@')) return { kind: 'weight', name: c.name() };
    if (c.eat('_')) return null;
    return c.err('expected %id, @weight or _');
  });
  const attrs: Attrs = {};
  if (c.eat('{')) {
    c.list('}', () => {
      const k = c.name();
      c.expect('=');
      attrs[k] = parseAttr(c);
    });
  }
  c.expect('#');
  const name = c.name();
  let outNames = outs.length ? [name] : [];
  if (c.eat('->')) {
    outNames = [];
    do outNames.push(c.name()); while (c.eat(','));
  }
  if (outNames.length !== outs.length) c.err(`${outs.length} outputs but ${outNames.length} names`);
  outs.forEach((a, k) => {
    a.name = outNames[k];
    if (g.acts.has(a.id)) c.err(`%${a.id} defined twice`);
    g.acts.set(a.id, a);
  });
  return { op, name, inputs, outputs: outs.map((a) => a.id), attrs };
}

function parseAttr(c: Cursor): AttrValue {
  if (c.eat('[')) return c.list(']', () => c.number());
  c.ws();
  if (/[-+\d.]/.test(c.text[c.pos] ?? '')) return c.number();
  return c.name();
}
