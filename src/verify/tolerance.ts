// How far an engine may drift from its float32 reference before `llmc verify` fails it. The error of a value is
// its relative error: max |engine - reference| over the value, divided by max |reference| (so a value with large
// entries is judged on its scale), the worst over the steps compared. Defaults depend on the engine's weight
// dtype: rounding the weights is the only intended change, and it grows through the layers.
// A quantized engine is judged by its scheme's accuracy budget: add the scheme's weight dtype here (the
// quantization work keys its schemes by the dtype of the quantized weights, e.g. i8 / u4 / f8e4m3) and verify
// picks the loosest budget among the weight dtypes the engine holds.
export const DEFAULT_TOLERANCE: Record<string, number> = {
  f32: 1e-4,        // fusion and kernel choice only reorder float32 sums
  f16: 2e-2,        // 11-bit mantissa weights
  bf16: 8e-2,       // 8-bit mantissa weights
  // Quantized linears (llmc build --quantize; the dtype of their codes). Provisional budgets: about twice the worst
  // relative error measured on the random 2-layer llama fixture (int8 0.031, fp8 0.147, int4 g128 0.48 at the
  // logits), whose random weights quantize worse than trained ones. A scheme with a calibrated budget replaces
  // its entry.
  i8: 6e-2,
  f8e4m3: 3e-1,
  u4: 6e-1,
};

/**
 * The default tolerance of an engine holding weights of these dtypes (the loosest applies). Dtypes the
 * checkpoint itself stores lose nothing (its f16 widened to the reference's f32 is exact): they count as f32.
 */
export function defaultTolerance(weightDtypes: Iterable<string>, checkpointDtypes: ReadonlySet<string> = new Set()): { tolerance: number; why: string } {
  let best = { tolerance: DEFAULT_TOLERANCE.f32, why: 'f32 weights' };
  const lossy = [...weightDtypes].filter((d) => d !== 'f32' && !checkpointDtypes.has(d));
  if (lossy.length === 0 && [...weightDtypes].some((d) => d !== 'f32')) best.why = 'weights stored in the checkpoint\'s own dtype';
  for (const d of lossy) {
    const t = DEFAULT_TOLERANCE[d];
    if (t === undefined) {
      return { tolerance: Number.POSITIVE_INFINITY, why: `${d} weights (no budget recorded for this dtype: pass --tolerance)` };
    }
    if (t > best.tolerance) best = { tolerance: t, why: `${d} weights` };
  }
  return best;
}
