// The benchmark's arithmetic (bench/stats.mjs, bench/report.mjs) on inputs whose answers are worked
// out by hand below, and the SVG writer (bench/chart.mjs): well-formed, one bar per system per cell,
// one limit line per cell, bar heights ordered like the values.
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f32ToBf16, makeTable, naiveApplyQK, tableApplyQK } from '../../bench/baselines.mjs';
import { renderChart } from '../../bench/chart.mjs';
import { cellMetrics, checkTargets } from '../../bench/report.mjs';
import { callsPerSample, formatNs, gbps, median, pairedSpeedup, speedup, summarize } from '../../bench/stats.mjs';

describe('bench stats', () => {
  it('median of odd and even counts, unsorted input', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([40, 10, 30, 20])).toBe(25);
    expect(median([7])).toBe(7);
    // numeric, not lexicographic, order: '100' < '9' as strings
    expect(median([100, 9, 8])).toBe(9);
    expect(() => median([])).toThrow(RangeError);
  });

  it('summarize gives median, min, max and count', () => {
    expect(summarize([5, 1, 9, 3])).toEqual({ median: 4, min: 1, max: 9, n: 4 });
  });

  it('GB/s counts every byte read and written: 2 * bytes / ns', () => {
    // S3 f32: (512*32*128 + 512*8*128) elements * 4 bytes = 10 485 760 bytes; 1 ms per call
    // moves 20 971 520 bytes per 1e6 ns = 20.97152 GB/s.
    expect(gbps(10_485_760, 1e6)).toBeCloseTo(20.97152, 10);
    expect(gbps(1e9, 2e9)).toBe(1);
    expect(() => gbps(100, 0)).toThrow(RangeError);
  });

  it('pairedSpeedup: the median of per-round ratios, pairing samples by round', () => {
    // rounds 2-3 slow for both (ratio still 1), round 4 slow for x only: still 1 (median/median: 0.73)
    expect(pairedSpeedup([10, 20, 30, 12], [10, 20, 30, 24])).toBe(1);
    expect(pairedSpeedup([20, 40, 60], [10, 20, 30])).toBe(2);
    expect(pairedSpeedup([10, 10, 10], [5])).toBe(2); // only rounds both measured
    expect(pairedSpeedup([], [1])).toBeNull();
    expect(pairedSpeedup(undefined, [1])).toBeNull();
  });

  it('speedup is baseline time over own time; missing values give null', () => {
    expect(speedup(10, 50)).toBe(5);
    expect(speedup(50, 10)).toBe(0.2);
    expect(speedup(null, 10)).toBeNull();
    expect(speedup(10, undefined)).toBeNull();
  });

  it('batches tiny calls up to the sample target, at least one call', () => {
    expect(callsPerSample(1000, 1e6)).toBe(1000);
    expect(callsPerSample(3000, 1e6)).toBe(334);
    expect(callsPerSample(5e6, 1e6)).toBe(1);
    expect(callsPerSample(1, 1e6, 500)).toBe(500);
  });

  it('formats times with units', () => {
    expect(formatNs(512)).toBe('512 ns');
    expect(formatNs(1234)).toBe('1.23 µs');
    expect(formatNs(45_600_000)).toBe('45.6 ms');
    expect(formatNs(2.5e9)).toBe('2.50 s');
  });

  it('cellMetrics: fraction of the limit and speedups from the medians', () => {
    const cell = { bytes: 1_000_000 };
    const systems = ['native/avx2', 'js', 'table', 'naive', 'limit'].map((id) => ({ id }));
    const samples = {
      'native/avx2': [120, 100, 110], // median 110
      js: [400, 440, 420], // 420
      table: [900, 800, 880, 1000], // 890
      naive: [20_000], // 20000
      limit: [100, 99, 101], // 100
    };
    const calls = { 'native/avx2': 1, js: 1, table: 1, naive: 1, limit: 1 };
    const r = cellMetrics(cell, systems, samples, calls);
    expect(r['native/avx2'].median).toBe(110);
    expect(r['native/avx2'].gbps).toBeCloseTo(2_000_000 / 110, 12);
    expect(r['native/avx2'].fracLimit).toBeCloseTo(100 / 110, 12);
    expect(r['native/avx2'].vsJs).toBeCloseTo(420 / 110, 12);
    expect(r.js.vsTable).toBeCloseTo(890 / 420, 12);
    expect(r.js.vsNaive).toBeCloseTo(20_000 / 420, 12);
    expect(r.js.vsJs).toBeNull();
    expect(r.limit.fracLimit).toBeNull();
    expect(r.table.min).toBe(800);
    expect(r.table.max).toBe(1000);

    const targets = checkTargets(
      [{ id: 'S3 half f32', shape: 'S3', style: 'half', dtype: 'f32', results: r }],
      { nativeOk: true, backendInfo: { isa: 'avx2' } },
    );
    const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
    expect(byId['native-limit'].status).toBe('PASS'); // 0.909 >= 0.85
    expect(byId['native-vs-table'].status).toBe('MISS'); // 890/110 = 8.09 < 10
    expect(byId['js-vs-table'].status).toBe('PASS'); // 2.12 >= 1
    expect(byId['js-vs-naive'].status).toBe('PASS'); // 47.6 >= 20
    expect(byId['decode-overhead'].status).toBe('n/a'); // no S1 cell
  });

  it('a goal missed with its must-hold line met is "holds", below the must line "not yet"', () => {
    const at = (limitMs: number) =>
      Object.fromEntries(
        checkTargets(
          [{ id: 'S4 half f32', shape: 'S4', style: 'half', dtype: 'f32', results: cellMetrics({ bytes: 1e6 }, [{ id: 'native/avx2' }, { id: 'limit' }], { 'native/avx2': [1000], limit: [limitMs] }, { 'native/avx2': 1, limit: 1 }) }],
          { nativeOk: true, backendInfo: { isa: 'avx2' } },
        ).map((t) => [t.id, t.status]),
      )['native-limit-s4'];
    expect(at(950)).toBe('PASS'); // 0.95 of the limit
    expect(at(850)).toBe('MUST'); // 0.85: goal 0.9 missed, must 0.8 held
    expect(at(750)).toBe('MISS'); // 0.75
  });
});

describe('bench baselines (hand-written JS)', () => {
  it('bf16 by hand: decode is bits << 16, encode rounds to nearest, ties to even', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc040)).toBe(-3);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16(1 + 2 ** -8 + 2 ** -12)).toBe(0x3f81); // above the tie
    expect(f32ToBf16(-2.5)).toBe(0xc020);
  });

  // Independent float64 reference: token t at position start + t, pair j rotated by (start+t) * base^(-2j/D).
  function reference(x: number[], heads: number, D: number, start: number, base: number, style: string): number[] {
    const out = x.slice();
    const tokens = x.length / (heads * D);
    for (let t = 0; t < tokens; t++)
      for (let h = 0; h < heads; h++)
        for (let j = 0; j < D / 2; j++) {
          const a = (start + t) * Math.pow(base, (-2 * j) / D);
          const o = (t * heads + h) * D;
          const [i0, i1] = style === 'half' ? [o + j, o + j + D / 2] : [o + 2 * j, o + 2 * j + 1];
          out[i0] = x[i0] * Math.cos(a) - x[i1] * Math.sin(a);
          out[i1] = x[i1] * Math.cos(a) + x[i0] * Math.sin(a);
        }
    return out;
  }

  for (const style of ['half', 'interleaved'] as const)
    it(`table and naive match a float64 reference (${style}, f32 and bf16)`, () => {
      const D = 8, qHeads = 2, kHeads = 1, tokens = 3, start = 5, base = 10000;
      const qv = Array.from({ length: tokens * qHeads * D }, (_, i) => Math.sin(i * 1.7) * 0.9);
      const kv = Array.from({ length: tokens * kHeads * D }, (_, i) => Math.cos(i * 0.3) * 0.8);
      const qRef = reference(qv, qHeads, D, start, base, style);
      const kRef = reference(kv, kHeads, D, start, base, style);
      const table = makeTable(start + tokens, D, base);
      const fns = [
        tableApplyQK({ style, dtype: 'f32', headDim: D, qHeads, kHeads, table }),
        naiveApplyQK({ style, dtype: 'f32', headDim: D, qHeads, kHeads, base }),
      ];
      for (const f of fns) {
        const q = Float32Array.from(qv), k = Float32Array.from(kv);
        f(q, k, start);
        q.forEach((v, i) => expect(Math.abs(v - qRef[i])).toBeLessThan(1e-6));
        k.forEach((v, i) => expect(Math.abs(v - kRef[i])).toBeLessThan(1e-6));
      }
      // bf16: inputs rounded to bf16 first; the result is within one bf16 ulp (2^-8 for |x| < 1) of the reference.
      const q16 = Uint16Array.from(qv, f32ToBf16), k16 = Uint16Array.from(kv, f32ToBf16);
      const qRef16 = reference(Array.from(q16, bf16ToF32), qHeads, D, start, base, style);
      const kRef16 = reference(Array.from(k16, bf16ToF32), kHeads, D, start, base, style);
      for (const dtype of ['bf16'] as const)
        for (const f of [
          tableApplyQK({ style, dtype, headDim: D, qHeads, kHeads, table }),
          naiveApplyQK({ style, dtype, headDim: D, qHeads, kHeads, base }),
        ]) {
          const q = q16.slice(), k = k16.slice();
          f(q, k, start);
          q.forEach((v, i) => expect(Math.abs(bf16ToF32(v) - qRef16[i])).toBeLessThanOrEqual(2 ** -8));
          k.forEach((v, i) => expect(Math.abs(bf16ToF32(v) - kRef16[i])).toBeLessThanOrEqual(2 ** -8));
        }
    });
});

/** Every opened tag is closed in order (a small well-formedness check; no XML parser needed). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  return stack.length === 0;
}

describe('bench chart', () => {
  const systems = [
    { id: 'native/avx512', kind: 'native', label: 'native avx512' },
    { id: 'native/scalar', kind: 'native', label: 'native scalar' },
    { id: 'js', kind: 'js', label: 'JS engine' },
    { id: 'table', kind: 'table', label: 'table' },
    { id: 'naive', kind: 'naive', label: 'naive' },
    { id: 'limit', kind: 'limit', label: 'limit' },
  ];
  const gb = { 'native/avx512': 20, 'native/scalar': 8, js: 2, table: 1, naive: 0.1, limit: 25 };
  const cells: { id: string; shape: string; style: string; dtype: string; shapeNote: string; results: Record<string, { gbps: number; median: number }> }[] = [];
  for (const dtype of ['f32', 'bf16'])
    for (const shape of ['S1', 'S3'])
      for (const style of ['half', 'interleaved']) {
        const results: Record<string, { gbps: number; median: number }> = {};
        for (const s of systems) results[s.id] = { gbps: gb[s.id as keyof typeof gb], median: 1000 };
        cells.push({ id: `${shape} ${style} ${dtype}`, shape, style, dtype, shapeNote: 'n', results });
      }
  const meta = { cpu: 'Acme <Fast> & Co CPU', cores: 2, date: '2026-11-22', quick: false };
  const svg = renderChart({ meta, systems, cells });

  it('is a well-formed SVG document with the CPU (escaped) and date in the title', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('Acme &lt;Fast&gt; &amp; Co CPU');
    expect(svg).not.toContain('<Fast>');
    expect(svg).toContain('2026-11-22');
    expect(svg).toContain('GB/s');
  });

  it('draws one bar per system per cell and one limit line per cell', () => {
    const bars = [...svg.matchAll(/<rect class="bar" data-system="([^"]+)" data-cell="([^"]+)"[^>]*height="([\d.]+)"/g)];
    expect(bars.length).toBe(cells.length * 5);
    for (const c of cells)
      for (const s of systems.filter((x) => x.kind !== 'limit'))
        expect(bars.filter((b) => b[1] === s.id && b[2] === c.id).length).toBe(1);
    const limits = [...svg.matchAll(/<line class="limit" data-cell="([^"]+)"/g)].map((m) => m[1]);
    expect(limits.sort()).toEqual(cells.map((c) => c.id).sort());
    // Taller bar for more GB/s, within each cell.
    const h = (sys: string) => Number(bars.find((b) => b[1] === sys && b[2] === 'S3 half f32')![3]);
    expect(h('native/avx512')).toBeGreaterThan(h('native/scalar'));
    expect(h('native/scalar')).toBeGreaterThan(h('js'));
    expect(h('js')).toBeGreaterThan(h('table'));
    expect(h('table')).toBeGreaterThan(h('naive'));
  });
});

describe('bench summary and legend', () => {
  it('one line per dtype with each engine\'s speedup over JS at decode and prefill', async () => {
    const { formatSummary, LEGEND } = await import('../../bench/summary.mjs');
    const cell = (dtype: string, shape: string, r: Record<string, number>) => ({
      dtype, shape, results: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { vsJs: v }])),
    });
    const text = formatSummary({
      meta: { nativeOk: true, backendInfo: { isa: 'avx2' } },
      cells: [
        cell('f32', 'S1', { 'native/avx2': 23.4, wasm: 2.1 }),
        cell('f32', 'S2', { 'native/avx2': 99, wasm: 99 }),
        cell('f32', 'S3', { 'native/avx2': 7.2, wasm: 2.5, wasm0: 4.04 }),
        cell('f32', 'S4', { 'native/avx2': 9.1, wasm: 2.5, wasm0: 3.96 }),
        cell('bf16', 'S1', { 'native/avx2': 11 }),
      ],
    });
    expect(text.split('\n').slice(2)).toEqual([
      '  f32   native avx2: 23x at decode, 7.2-9.1x at prefill; wasm: 2.1x at decode, 2.5x at prefill; wasm (wasmArray): 4.0x at prefill',
      '  bf16  native avx2: 11x at decode',
    ]);
    for (const id of ['wasm0', 'table', 'naive', 'limit', 'of limit']) expect(LEGEND).toContain(id);
  });
});
