// The plan JSON's shape, checked before the TS reader (reader.ts) or `llmc inspect` touches it: every field the
// readers use has the type docs/engine-format.md gives it, so a damaged or hand-edited plan is a one-line
// BAD_ENGINE error instead of a TypeError deep in a reader. (What the shapes mean together is checked by the
// native loader's validator, native/runtime/plan_validator.cpp, before anything runs.)
import { WEIGHT_DTYPES } from '../ir/graph.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Why `plan` does not have the plan JSON's shape, or null when it does. */
export function planShapeProblem(plan: unknown): string | null {
  if (!isObject(plan)) return 'the plan is not a JSON object';
  for (const key of ['model', 'limits', 'kv_cache', 'arena', 'outputs']) {
    if (!isObject(plan[key])) return `the plan has no "${key}" object`;
  }
  const arena = plan.arena as Record<string, unknown>;
  for (const key of ['floats_per_token', 'logit_floats_per_row']) {
    if (!isCount(arena[key])) return `arena.${key} is not a non-negative integer`;
  }
  if (!isCount((plan.limits as Record<string, unknown>).max_logit_rows)) return 'limits.max_logit_rows is not a non-negative integer';
  if (!Array.isArray(plan.values) || !Array.isArray(plan.nodes)) return 'the plan has no values or nodes';
  const values = plan.values as unknown[];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const at = `values[${i}]`;
    if (!isObject(v)) return `${at} is not an object`;
    if (v.id !== i) return `value #${i} has id ${JSON.stringify(v.id)} (ids must index values)`;
    if (v.name !== undefined && typeof v.name !== 'string') return `${at}.name is not a string`;
    if (v.kind === 'weight') {
      if (typeof v.dtype !== 'string' || !(WEIGHT_DTYPES as readonly string[]).includes(v.dtype)) return `${at} has unknown dtype ${JSON.stringify(v.dtype)}`;
      const shape = v.shape;
      if (!Array.isArray(shape) || shape.length < 1 || shape.length > 2 || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
        return `${at}.shape is not a 1-D or 2-D list of positive integers`;
      }
      if (!isCount(v.nbytes)) return `${at}.nbytes is not a non-negative integer`;
      if (v.offset !== undefined && !isCount(v.offset)) return `${at}.offset is not a non-negative integer`;
    } else if (v.kind === 'activation') {
      if (v.rows !== 'tokens' && v.rows !== 'logit_rows') return `${at}.rows is not "tokens" or "logit_rows"`;
      if (!isCount(v.width) || !isCount(v.arena_offset)) return `${at} has no integer width and arena_offset`;
    } else {
      return `${at}.kind is not "weight" or "activation"`;
    }
  }
  const nodes = plan.nodes as unknown[];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    const at = `nodes[${i}]`;
    if (!isObject(n)) return `${at} is not an object`;
    if (typeof n.op !== 'string') return `${at}.op is not a string`;
    if (n.name !== undefined && typeof n.name !== 'string') return `${at}.name is not a string`;
    for (const key of ['inputs', 'outputs']) {
      const ids = n[key];
      if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id) && id >= -1 && id < values.length)) {
        return `${at}.${key} is not a list of value ids`;
      }
    }
    if (n.attrs !== undefined && !isObject(n.attrs)) return `${at}.attrs is not an object`;
  }
  const logits = (plan.outputs as Record<string, unknown>).logits;
  // -1: a rank > 0 of a sharded engine whose step ends without logits (docs/parallel.md).
  const rank = isObject(plan.mapping) ? (plan.mapping as Record<string, unknown>).rank : 0;
  if (logits === -1 && Number.isSafeInteger(rank) && (rank as number) > 0) return null;
  if (!Number.isSafeInteger(logits) || (logits as number) < 0 || (logits as number) >= values.length) return 'outputs.logits is not a value id';
  return null;
}
