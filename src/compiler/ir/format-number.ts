// Numbers in the IR text: the shortest string that reads back to the same double, written the way Python
// prints floats for small magnitudes (1e-05 rather than 0.00001) so eps values look like they do in config.json.
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`non-finite number ${x} in the IR`);
  if (Object.is(x, -0)) return '-0';
  let s = String(x);
  if (x !== 0 && Math.abs(x) < 1e-4 && !s.includes('e')) s = x.toExponential();
  // Python style exponent: e-05, e+20.
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}
