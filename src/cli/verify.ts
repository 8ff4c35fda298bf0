// llmc verify ENGINE: the engine against its float32, unfused reference (src/verify/verify.ts), a per-layer table,
// and the first value past the tolerance with what produced it; exit 3 past the tolerance. With --integrity:
// every file's bytes against the manifest's checksums (src/compiler/engine/integrity.ts) instead.
import { Command, InvalidArgumentError, Option } from 'commander';
import { LlmcError } from '../errors.js';
import type { VerifyReport } from '../verify/verify.js';
import { BACKENDS, type BackendName, intArg, nonEmpty, threadsArg } from './parse.js';

export const EXIT_PAST_TOLERANCE = 3;   // verify ran and the engine is off (or its files differ)

interface VerifyFlags {
  backend?: BackendName;
  prompts?: string;
  randomPrompts?: number;
  seed?: number;
  maxNewTokens?: number;
  tolerance?: number;
  reference?: string;
  referenceDumps?: string;
  engineDumps?: string;
  workDir?: string;
  threads?: number;
  json?: boolean;
  integrity?: boolean;
}

function toleranceArg(v: string): number {
  const x = Number(v);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(v) || !Number.isFinite(x) || x < 0) throw new InvalidArgumentError('must be a number >= 0, e.g. 1e-4');
  return x;
}

const e3 = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

export function formatReport(r: VerifyReport): string {
  const lines: string[] = [];
  lines.push(`llmc verify: ${r.engine} on ${r.backend} vs the ${r.reference}`);
  lines.push(`  ${r.prompts} prompts, ${r.max_new_tokens} new tokens: ${r.steps} steps, ${r.steps_compared} compared; ` +
    `tolerance ${r.tolerance} relative (${r.tolerance_from})`);
  const sharded = r.ranks > 1;
  if (sharded) {
    lines.push(`  ${r.ranks} ranks (tp ${r.tp} x pp ${r.pp}) under mpirun, each rank's values against its part of the reference's` +
      (r.values_partial ? `; ${r.values_partial} partial sums not compared alone (their all_reduce outputs are)` : ''));
  }
  const head = ['layer', ...(sharded ? ['rank'] : []), 'values', 'worst value', 'max abs', 'rel err', 'cosine', ''];
  const rows = r.layers.map((l) => [l.layer, ...(sharded ? [String(l.rank)] : []), String(l.values), l.worst_value, e3(l.max_abs), e3(l.rel_err),
    l.cosine.toFixed(6), l.ok ? 'ok' : 'PAST TOLERANCE']);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
  for (const row of [head, ...rows]) lines.push(`  ${row.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd()}`);
  if (r.first_token_difference) {
    const d = r.first_token_difference;
    lines.push(`greedy tokens differ first at step ${d.step}, prompt ${d.request}: ${d.engine} vs ${d.reference} (later steps had other inputs and are not compared)`);
  } else {
    lines.push('greedy tokens: identical');
  }
  if (r.values_unmapped.length) {
    const shown = r.values_unmapped.slice(0, 8).join(', ') + (r.values_unmapped.length > 8 ? `, ... (${r.values_unmapped.length - 8} more)` : '');
    lines.push(`not compared (no reference value): ${shown}`);
  }
  const b = r.first_bad;
  if (!b) {
    lines.push(`ok: ${r.values_compared} values within ${r.tolerance}`);
    return lines.join('\n');
  }
  const what = b.part ? `${b.part} (its columns of the fused ${b.value})` : b.ref && b.ref !== b.value ? `${b.value} (= ${b.ref})` : b.value;
  const rank = sharded ? `, rank ${b.rank}` : '';
  const at = b.worst ? `; worst at step ${b.worst.step}, row ${b.worst.row}, column ${b.worst.col}: ${b.worst.engine} vs ${b.worst.reference}` : '';
  lines.push(`FAIL: first value past ${r.tolerance}: ${what}, layer ${layerName(b.ref ?? b.part ?? b.value)}${rank}, step ${b.first_bad_step}, ` +
    `node ${b.node} (${b.op}): rel err ${e3(b.rel_err)}, max abs ${e3(b.max_abs)}, cosine ${b.cosine.toFixed(6)}${at}`);
  if (b.diagnosis) lines.push(`cause: ${b.diagnosis.cause}`);
  return lines.join('\n');
}

function layerName(value: string): string {
  return /^(l\d+)\./.exec(value)?.[1] ?? value;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .summary('check an engine against its float32 unfused reference (or its files against their checksums)')
    .description('Runs the engine and a float32 reference without math-changing passes (built now from the checkpoint the ' +
      'manifest records, or --reference) on the same prompts, compares the logits and every activation by layer name, ' +
      'and names the first value past the tolerance and the pass, kernel or weight that produced it. A sharded engine (--tp-size/--pp-size) ' +
      'runs under mpirun (started here), each rank\'s values against its part of the reference, the rank named. Exit 3 past the tolerance.')
    .argument('<engine_dir>', 'engine directory (from llmc build)')
    .addOption(new Option('--backend <backend>', "backend to run the engine on (default: the engine's target); the reference runs on cpu").choices(BACKENDS))
    .option('--prompts <file>', 'prompts, one per line: comma-separated token ids, or text (needs the tokenizer)', nonEmpty('--prompts'))
    .option('--random-prompts <n>', 'N seeded random prompts of different lengths (default 4)', intArg(1, 256))
    .option('--seed <n>', 'seed of the random prompts (default 0)', intArg(0, 2 ** 32 - 1))
    .option('--max-new-tokens <n>', 'greedy tokens per prompt: one prefill step, then decode steps (default 4)', intArg(1, 4096))
    .option('--tolerance <x>', 'largest relative error (max abs diff / max |reference|) of any value (default by weight dtype: f32 1e-4, f16 2e-2, bf16 8e-2)', toleranceArg)
    .option('--reference <hf_dir>', "checkpoint to build the reference from (default: the one in the engine's manifest)", nonEmpty('--reference'))
    .option('--reference-dumps <dir>', 'compare with activation dumps another tool wrote (scripts/hf-dump.py), not a reference engine', nonEmpty('--reference-dumps'))
    .option('--engine-dumps <dir>', "compare a run of the engine dumped elsewhere (index.tsv + prompts.json, e.g. native/build/cuda_emu_dump; a sharded engine: DIR/rank<r>/) instead of running it here", nonEmpty('--engine-dumps'))
    .option('--work-dir <dir>', 'keep the reference engine and both dumps here (compare-dumps.mjs reads them)', nonEmpty('--work-dir'))
    .option('--threads <n>', 'CPU threads (default all cores)', threadsArg)
    .option('--json', 'print one JSON object (every value, per-layer rows, the first bad value)')
    .option('--integrity', "check every file's size and sha256 against the manifest instead (exit 3 and the file named on a mismatch)")
    .action(async (engineDir: string, flags: VerifyFlags) => {
      if (flags.integrity) {
        const { checkIntegrity } = await import('../compiler/engine/integrity.js');
        const { readEngineManifest } = await import('../runtime/manifest.js');
        readEngineManifest(engineDir);                 // the friendly errors for a wrong directory
        const r = checkIntegrity(engineDir);
        if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else {
          for (const f of r.files) process.stdout.write(`  ${f.status === 'ok' ? 'ok     ' : 'BAD    '} ${f.file} (${f.bytes} bytes${f.status === 'ok' ? '' : `: ${f.status}`})\n`);
          if (r.unlisted.length) process.stdout.write(`  not in the manifest (not checked): ${r.unlisted.join(', ')}\n`);
          process.stdout.write(r.ok ? `ok: ${r.files.length} files and the manifest match their checksums\n` : `FAIL: ${r.problem}\n`);
        }
        if (!r.ok) process.exitCode = EXIT_PAST_TOLERANCE;
        return;
      }
      if (flags.prompts !== undefined && flags.randomPrompts !== undefined) {
        throw new LlmcError('BAD_ARGUMENT', 'pass --prompts or --random-prompts, not both');
      }
      const { verifyEngine } = await import('../verify/verify.js');
      const report = await verifyEngine({
        engineDir, backend: flags.backend, promptsFile: flags.prompts, randomPrompts: flags.randomPrompts, seed: flags.seed,
        maxNewTokens: flags.maxNewTokens, tolerance: flags.tolerance, reference: flags.reference, referenceDumps: flags.referenceDumps, engineDumps: flags.engineDumps,
        workDir: flags.workDir, threads: flags.threads,
        log: flags.json ? undefined : (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
      if (!report.ok) process.exitCode = EXIT_PAST_TOLERANCE;
    });
}
