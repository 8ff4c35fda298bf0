// The build's quantization flags, checked together, and what the build prints and the manifest records about
// each linear's scheme (manifest "quantization", shown by llmc inspect).
import { resolve } from 'node:path';
import { fail } from '../../errors.js';
import { INT4_GROUP_SIZES, schemeLabel, type QuantDecision, type QuantizeOptions } from '../../passes/quantize.js';
import type { BuildOptions } from '../api.js';
import type { PackedFormat } from './checkpoint-config.js';

export const SCHEMES = ['int8', 'int4', 'fp8'] as const;

export type CheckedQuant = Omit<QuantizeOptions, 'packed' | 'decisions' | 'inputScales'> & { calib?: string; awq?: boolean };

export function checkQuantOptions(opts: BuildOptions): CheckedQuant {
  const scheme = opts.quantize;
  if (scheme !== undefined && !(SCHEMES as readonly string[]).includes(scheme)) {
    fail('BAD_ARGUMENT', `--quantize ${String(scheme)} is not a scheme llmc has`, `use one of ${SCHEMES.join(', ')}`);
  }
  const needs = (flag: string, ok: boolean, fix: string) => { if (!ok) fail('BAD_ARGUMENT', `${flag} needs ${fix}`); };
  if (opts.groupSize !== undefined) {
    needs('--group-size', scheme === 'int4', '--quantize int4 (int8 and fp8 scale each output channel)');
    if (!INT4_GROUP_SIZES.includes(opts.groupSize)) fail('BAD_ARGUMENT', `--group-size ${opts.groupSize} is not supported`, `use ${INT4_GROUP_SIZES.join(', ')}`);
  }
  if (opts.symmetric) needs('--symmetric', scheme === 'int4', '--quantize int4 (int8 and fp8 are always symmetric)');
  if (opts.quantizeLmHead) needs('--quantize-lm-head', scheme !== undefined, '--quantize');
  if (opts.int8Activations && scheme === 'fp8') fail('BAD_ARGUMENT', '--int8-activations applies to int8 and int4 codes, not fp8', 'drop it, or use --quantize int8 / int4');
  if (opts.keepFloat?.length) needs('--keep-float', scheme !== undefined, '--quantize');
  if (opts.calib !== undefined) needs('--calib', scheme !== undefined, '--quantize');
  if (opts.accuracyBudget !== undefined) needs('--accuracy-budget', scheme !== undefined, '--quantize');
  if (opts.accuracyGate === false && opts.accuracyBudget !== undefined) fail('BAD_ARGUMENT', '--accuracy-budget and --no-accuracy-gate contradict each other', 'pass one of them');
  if (opts.dummyWeights && scheme && opts.calib !== undefined) fail('BAD_ARGUMENT', '--calib does not apply to --dummy-weights', 'a dummy engine has no real weights to calibrate or measure');
  const keepFloat = (opts.keepFloat ?? []).map((p) => {
    try {
      return new RegExp(p);
    } catch (e) {
      return fail('BAD_ARGUMENT', `--keep-float ${JSON.stringify(p)} is not a valid regular expression (${(e as Error).message})`);
    }
  });
  if (opts.awq === false && !(scheme === 'int4' && opts.calib !== undefined)) fail('BAD_ARGUMENT', '--no-awq only applies to --quantize int4 with --calib');
  return { scheme, groupSize: opts.groupSize, symmetric: opts.symmetric, keepFloat, quantizeLmHead: opts.quantizeLmHead, calib: opts.calib, awq: opts.awq, int8Activations: opts.int8Activations };
}

export interface QuantizationSummary {
  source: 'rtn' | 'checkpoint';
  scheme: string;                  // the requested scheme, or the checkpoint's format
  flags: string[];                 // the llmc build flags that make this quantization (the rebuild command has them)
  layers: QuantDecision[];
  accuracy?: Record<string, unknown>;   // the accuracy gate's figures (accuracy-gate.ts)
}

export function quantizationSummary(q: CheckedQuant, packed: PackedFormat | null, decisions: QuantDecision[]): QuantizationSummary | undefined {
  if (packed) return { source: 'checkpoint', scheme: packed.label, flags: q.int8Activations ? ['--int8-activations'] : [], layers: decisions };
  if (!q.scheme) return undefined;
  const flags = ['--quantize', q.scheme];
  if (q.groupSize !== undefined) flags.push('--group-size', String(q.groupSize));
  if (q.symmetric) flags.push('--symmetric');
  for (const re of q.keepFloat ?? []) flags.push('--keep-float', re.source);
  if (q.quantizeLmHead) flags.push('--quantize-lm-head');
  if (q.int8Activations) flags.push('--int8-activations');
  if (q.calib !== undefined && q.scheme === 'int4' && q.awq !== false) flags.push('--calib', resolve(q.calib));   // AWQ depends on it
  const label = q.scheme === 'int4' ? schemeLabel({ kind: 'int4', groupSize: q.groupSize ?? 128, symmetric: q.symmetric ?? false }) : schemeLabel({ kind: q.scheme, groupSize: 0, symmetric: true });
  return { source: 'rtn', scheme: label, flags, layers: decisions };
}

/** The build's per-layer lines: a count per scheme, and every linear that differs from the requested scheme. */
export function quantizationLines(s: QuantizationSummary | undefined): string[] {
  if (!s) return [];
  const counts = new Map<string, number>();
  for (const d of s.layers) counts.set(d.scheme, (counts.get(d.scheme) ?? 0) + 1);
  const lines = [`quantization: ${[...counts].map(([k, n]) => `${n} linear${n === 1 ? '' : 's'} ${k}`).join(', ')}`];
  for (const d of s.layers) if (d.reason) lines.push(`  ${d.node}: ${d.scheme} (${d.reason})`);
  return lines;
}
