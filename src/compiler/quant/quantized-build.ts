// What a --quantize build does besides the quantize pass: it builds the float twin (the same build without
// quantization, in a temp directory), collects calibration activations and searches AWQ scales (int4 with
// --calib), and runs the accuracy gate against the twin. Calibration tokens: the --calib file (or the text that
// ships with llmc, data/calibration.txt) through the checkpoint's tokenizer; without a tokenizer, seeded
// uniform token ids (the figures are then relative only).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../../errors.js';
import { canonicalize } from '../../passes/canonicalize.js';
import { TextTokenizer } from '../../runtime/tokenizer.js';
import type { BuildOptions, BuildReport } from '../api.js';
import type { Limits } from '../engine/plan.js';
import { WeightData } from '../engine/weight-data.js';
import { TensorReader, type TensorInfo } from '../hf/safetensors.js';
import type { Graph } from '../ir/graph.js';
import { accuracyLines, DEFAULT_BUDGETS, parseBudget, runAccuracyGate, type AccuracyReport, type Budget } from './accuracy-gate.js';
import { collectActivations, searchAwqScales, type AwqChoice } from './awq.js';
import type { CheckedQuant } from './options.js';

const MAX_TOKENS = 1024;   // calibration tokens used (gate and AWQ)
const CTX = 128;           // tokens per calibration window

export class QuantizedBuild {
  readonly gated: boolean;
  readonly awq: boolean;
  private readonly budget: Budget | null;
  private readonly text: { text: string; label: string } | null;
  private scratch: string | null = null;
  private twinDir: string | null = null;

  constructor(private readonly opts: BuildOptions, private readonly quant: CheckedQuant,
    private readonly build: (o: BuildOptions) => Promise<BuildReport>) {
    // A dummy-weight engine has nothing to measure: its weights are noise.
    this.gated = quant.scheme !== undefined && opts.accuracyGate !== false && !opts.dummyWeights;
    this.awq = quant.scheme === 'int4' && opts.calib !== undefined && opts.awq !== false;
    this.budget = this.gated ? parseBudget(opts.accuracyBudget, DEFAULT_BUDGETS[quant.scheme!]) : null;
    this.text = this.gated || this.awq ? readCalibration(opts.calib) : null;
  }

  /** The same build without quantization, on the CPU, built once (temp directory, removed by close()). */
  private async floatTwin(): Promise<string> {
    if (this.twinDir) return this.twinDir;
    this.scratch = mkdtempSync(join(tmpdir(), 'llmc-quant-build-'));
    const scratch = this.scratch;
    process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));   // a build that fails later
    const dir = join(this.scratch, 'float');
    await this.build({ ...this.base(), outDir: dir, quantize: undefined, groupSize: undefined, symmetric: undefined, keepFloat: undefined, quantizeLmHead: undefined, int8Activations: undefined });
    this.twinDir = dir;
    return dir;
  }

  // The twins are one-rank CPU engines run in this process: sharding (--tp-size/--pp-size) does not change the
  // numbers (test/parallel: within 1e-5 of one rank).
  private base(): BuildOptions {
    return {
      ...this.opts, cacheDir: undefined, target: 'cpu', accuracyGate: false, accuracyBudget: undefined, calib: undefined, awq: undefined, dumpIrDir: undefined, force: true, log: () => {},
      tpSize: undefined, ppSize: undefined,
    };
  }

  private tokens(engineDir: string, vocab: number): { tokens: number[]; label: string } {
    const tok = TextTokenizer.load(engineDir);
    if (tok) return { tokens: tok.encode(this.text!.text, false).slice(0, MAX_TOKENS), label: this.text!.label };
    let s = 12345;
    const tokens = Array.from({ length: 512 }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % vocab);
    return { tokens, label: 'seeded random token ids (the checkpoint has no tokenizer)' };
  }

  private windows(tokens: number[], limits: Limits): number[][] {
    const ctx = Math.min(CTX, limits.max_seq_len);
    const out: number[][] = [];
    for (let i = 0; i + 2 <= tokens.length; i += ctx) out.push(tokens.slice(i, i + ctx));
    if (out.length === 0) fail('BAD_ARGUMENT', 'the calibration text has fewer than 2 tokens', 'pass a longer --calib file');
    return out;
  }

  /** AWQ column scales per input activation (int4 with --calib), else undefined. */
  async awqScales(graph: Graph, tensors: ReadonlyMap<string, TensorInfo>, vocab: number, limits: Limits, log: (line: string) => void): Promise<Map<string, Float32Array> | undefined> {
    if (!this.awq) return undefined;
    const started = performance.now();
    const twin = await this.floatTwin();
    const { tokens, label } = this.tokens(twin, vocab);
    const g = canonicalize.run(graph);
    const names = new Set<string>();
    for (const n of g.nodes) if (n.op === 'linear') names.add(g.acts.get((n.inputs[0] as { id: number }).id)!.name);
    const acts = await collectActivations(twin, this.windows(tokens, limits), names);
    const reader = new TensorReader();
    const choices: AwqChoice[] = [];
    try {
      const scales = searchAwqScales(g, this.quant, acts, new WeightData(tensors, reader), choices);
      const gain = choices.map((c) => `${c.activation} a=${c.alpha}${c.alpha > 0 ? ` (-${(100 * (1 - c.awqError / c.rtnError)).toFixed(0)}%)` : ''}`);
      log(`awq: scales searched on ${tokens.length} tokens of ${label} in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `${scales.size} of ${choices.length} inputs scaled: ${gain.join(', ')}`);
      return scales;
    } finally {
      reader.close();
    }
  }

  /** Measures the quantized engine in `quantDir` against the float twin (for a cuda target or a sharded engine, a one-rank CPU build of it). */
  async gate(quantDir: string, backend: string, vocab: number, limits: Limits, log: (line: string) => void): Promise<AccuracyReport> {
    const floatDir = await this.floatTwin();
    let cpuQuant = quantDir;
    if (backend !== 'cpu' || (this.opts.tpSize ?? 1) * (this.opts.ppSize ?? 1) > 1) {
      cpuQuant = join(this.scratch!, 'quant');
      await this.build({ ...this.base(), outDir: cpuQuant });
    }
    const { tokens, label } = this.tokens(quantDir, vocab);
    const report = await runAccuracyGate({ quantDir: cpuQuant, floatDir, calibTokens: tokens, textLabel: label, ctx: Math.min(CTX, limits.max_seq_len), budget: this.budget! });
    for (const line of accuracyLines(report)) log(line);
    return report;
  }

  close(): void {
    if (this.scratch) rmSync(this.scratch, { recursive: true, force: true });
    this.scratch = null;
    this.twinDir = null;
  }
}

/** --calib FILE, or the English text that ships with llmc (data/calibration.txt). */
export function readCalibration(path: string | undefined): { text: string; label: string } {
  const file = path ?? fileURLToPath(new URL('../../../data/calibration.txt', import.meta.url));
  if (path !== undefined && (!existsSync(path) || !statSync(path).isFile())) fail('NOT_FOUND', `--calib: ${path} is not a file`, 'pass a UTF-8 text file of the kind of text the model will see');
  const text = readFileSync(file, 'utf8');
  if (text.trim() === '') fail('BAD_ARGUMENT', `--calib: ${path ?? file} is empty`, 'pass a UTF-8 text file with at least a few hundred words');
  return { text, label: path === undefined ? 'llmc\'s calibration text' : basename(path) };
}
