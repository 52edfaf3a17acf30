// What a reader of `npm run bench` needs besides the tables: what each row and column is, and the
// one-line answer to "how much faster than JavaScript is it on my machine", per dtype.

/** The legend printed before the tables: every system id and column the tables use. */
export const LEGEND = [
  'How to read the tables (one cell = one shape, pair style and dtype; q 32 + k 8 heads of 128, Llama-3-8B):',
  '  S1..S4        1 token (decode at position 4095), 16 tokens, 512 tokens, 4096 tokens (prefill)',
  '  native/ISA    the native addon with that kernel set (avx512, avx2, neon, scalar), one thread',
  '  ... threads=N, async   the same with N pool threads / through applyQKAsync',
  '  wasm          the WebAssembly engine on ordinary arrays (copies into its memory and back included)',
  '  wasm0         the WebAssembly engine on arrays allocated in its memory (wasmArray: no copies)',
  '  js            the package\'s pure-JS engine (exact, the last fallback)',
  '  table         hand-written JS with a precomputed cos/sin table: what you would write yourself',
  '  naive         hand-written JS calling Math.cos/Math.sin per pair',
  '  limit         one native call passing over the same bytes in place (x1.0) at the widest vectors:',
  '                memory speed, the floor for any in-place rotation',
  '  median, min..max   time per call over the samples; GB/s = 2 x bytes of q and k / median',
  '  of limit      limit time / this time (1.00 = memory speed); vs JS, vs table, vs naive: speedups',
].join('\n');

const sig2 = (x) => (x >= 10 ? Math.round(x).toString() : x.toPrecision(2));

function range(values) {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return null;
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return sig2(lo) === sig2(hi) ? `${sig2(lo)}x` : `${sig2(lo)}-${sig2(hi)}x`;
}

/**
 * One line per dtype: each engine's speedup over the package's JS engine at decode (S1) and at
 * prefill (S3-S4), both pair styles, from this run's medians.
 */
export function formatSummary(results) {
  const lines = ['', 'Summary (speedup over the JS engine, medians of this run, both pair styles):'];
  const dtypes = [...new Set(results.cells.map((c) => c.dtype))];
  const native = results.meta.nativeOk ? `native/${results.meta.backendInfo.isa}` : null;
  const engines = [...(native ? [[native, `native ${results.meta.backendInfo.isa}`]] : []), ['wasm', 'wasm'], ['wasm0', 'wasm (wasmArray)']];
  for (const dtype of dtypes) {
    const parts = [];
    for (const [id, name] of engines) {
      const at = (shapes) => range(results.cells.filter((c) => c.dtype === dtype && shapes.includes(c.shape)).map((c) => c.results?.[id]?.vsJs));
      const decode = at(['S1']);
      const prefill = at(['S3', 'S4']);
      if (decode === null && prefill === null) continue;
      parts.push(`${name}: ${[decode && `${decode} at decode`, prefill && `${prefill} at prefill`].filter(Boolean).join(', ')}`);
    }
    if (parts.length) lines.push(`  ${dtype.padEnd(5)} ${parts.join('; ')}`);
  }
  return lines.join('\n');
}
