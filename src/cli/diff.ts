// llmc diff A B: two engines side by side (src/compiler/engine/diff.ts). Exit 0 when identical, 3 when they differ.
import { Command } from 'commander';
import type { EngineDiff } from '../compiler/engine/diff.js';

export const EXIT_DIFFERENT = 3;

const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));

export function formatDiff(d: EngineDiff, maxLines = 40): string {
  const out: string[] = [`llmc diff: ${d.a} vs ${d.b}`];
  const list = (title: string, items: string[]) => {
    if (items.length === 0) return;
    out.push(`${title} (${items.length}):`);
    for (const x of items.slice(0, maxLines)) out.push(`  ${x}`);
    if (items.length > maxLines) out.push(`  ... ${items.length - maxLines} more (--json for all)`);
  };
  if (d.model_difference) {
    out.push(d.model_difference);
    list('model config', d.settings.filter((c) => c.key.startsWith('model.')).map((c) => `${c.key}: ${show(c.a)} -> ${show(c.b)}`));
    out.push('different models: plan, memory plan and weights not compared');
    return out.join('\n');
  }
  list('settings', d.settings.map((c) => `${c.key}: ${show(c.a)} -> ${show(c.b)}`));
  if (d.schema_hash) out.push(`op schema hash: ${d.schema_hash[0]} -> ${d.schema_hash[1]}`);
  list('plan nodes added', d.nodes.added);
  list('plan nodes removed', d.nodes.removed);
  list('plan nodes changed', d.nodes.changed.map((c) => `${c.key}: ${show(c.a)} -> ${show(c.b)}`));
  list('memory plan', d.memory_plan.map((c) => `${c.key}: ${show(c.a)} -> ${show(c.b)}`));
  list('weights added', d.weights.added);
  list('weights removed', d.weights.removed);
  list('weights changed', d.weights.changed.map((w) => {
    const dt = w.dtype[0] === w.dtype[1] ? w.dtype[0] : `${w.dtype[0]} -> ${w.dtype[1]}`;
    return `${w.name} [${w.shape[0].join(', ')}] ${dt}: ${w.note ?? `max abs diff ${w.max_abs!.toExponential(3)}`}`;
  }));
  out.push(d.identical ? `identical (${d.weights.compared} weights compared)`
    : d.same_model ? `different (${d.weights.compared} weights compared, ${d.weights.changed.length} differ)` : 'different models: weights not compared');
  return out.join('\n');
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .summary('what differs between two engines')
    .description('Settings, op schema hash, plan nodes added/removed/changed, memory plan and per-weight max abs difference ' +
      'of two engines. Exit 0 when identical, 3 when they differ.')
    .argument('<engine_a>', 'engine directory')
    .argument('<engine_b>', 'engine directory')
    .option('--json', 'print one JSON object')
    .action(async (a: string, b: string, flags: { json?: boolean }) => {
      const { diffEngines } = await import('../compiler/engine/diff.js');
      const d = diffEngines(a, b);
      process.stdout.write(flags.json ? `${JSON.stringify(d)}\n` : `${formatDiff(d)}\n`);
      if (!d.identical) process.exitCode = EXIT_DIFFERENT;
    });
}
