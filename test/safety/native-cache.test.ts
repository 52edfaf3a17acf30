// The native engine's per-Rope cos/sin cache (native/cossin_cache.h) must be invisible: a call on
// a Rope that has seen other calls (same positions, other frequencies from dynamic scaling, other
// ISAs, the inverse, positions past the cache, async calls racing sync ones) gives exactly the bits
// of the same call on a fresh Rope, whose cache is empty. The facade's q/k overlap errors come
// from the binding on the native engine (lib/validate.ts planApplyQK): same messages as the JS engine.
import { describe, expect, it } from 'vitest';
import { createRope, nativeAddon, selectIsa, supportedIsas } from '../../lib/internal.js';
import type { RopeOptions } from '../../lib/types.js';
import { rotatedRowF32, rotationMisses } from '../helpers/exact-angle.js';

const D = 64;
const QH = 3;
const KH = 2;

function inputs(tokens: number, seed: number): { q: Float32Array; k: Float32Array } {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
  const q = new Float32Array(tokens * QH * D).map(next);
  const k = new Float32Array(tokens * KH * D).map(next);
  return { q, k };
}

type Call = { positions: number | Int32Array; tokens: number; inverse?: boolean; seqLen?: number };

/** The call on `rope`, and on a fresh Rope with the same options: results as bytes. */
function both(options: RopeOptions, rope: ReturnType<typeof createRope>, c: Call, seed: number) {
  const a = inputs(c.tokens, seed);
  const b = inputs(c.tokens, seed);
  const opts = { qHeads: QH, kHeads: KH, positions: c.positions, inverse: c.inverse, seqLen: c.seqLen };
  rope.applyQK(a.q, a.k, opts);
  createRope(options, 'native').applyQK(b.q, b.k, opts);
  return { got: [...a.q, ...a.k], want: [...b.q, ...b.k] };
}

const native = nativeAddon !== null;

// The native stages of `npm test` run this file; the ROPE_SIMD_BACKEND=js stage has no native
// engine by request, nor has the ROPE_SIMD_BACKEND=wasm one (the same split as test/engines/parity.test.ts).
if (process.env.ROPE_SIMD_BACKEND === 'js' || process.env.ROPE_SIMD_BACKEND === 'wasm') {
  describe(`native cos/sin cache (${process.env.ROPE_SIMD_BACKEND}-only run)`, () => {
    it('has no native engine, by request', () => expect(native).toBe(false));
  });
} else describe('native cos/sin cache', () => {
  it('is available on this machine (the tests below need the native engine)', () => {
    expect(native).toBe(true);
  });

  it('a warm Rope gives the bits of a fresh one: repeats, other frequencies, inverse, far positions', () => {
    const options: RopeOptions = { headDim: D, base: 500000, scaling: { type: 'dynamic', factor: 4, originalMaxPositions: 64 } };
    const rope = createRope(options, 'native');
    const calls: Call[] = [
      { positions: 0, tokens: 40 }, // fills rows 0..39 (frequencies for seqLen <= 64)
      { positions: 10, tokens: 40 }, // half of them cached
      { positions: 100, tokens: 5 }, // seqLen 105: other frequencies (a second table)
      { positions: 10, tokens: 40 }, // back to the first frequencies: their table again
      { positions: 20, tokens: 8, seqLen: 1000 }, // same positions, frequencies for seqLen 1000
      { positions: 20, tokens: 8, inverse: true }, // inverse: computed, never cached
      { positions: 20, tokens: 8 },
      { positions: Int32Array.of(3, 3, 131071, 131072, 2 ** 31 - 1, 7), tokens: 6 }, // past the cache
      { positions: Int32Array.of(3, 131071, 7, 0, 5, 3), tokens: 6 },
    ];
    calls.forEach((c, i) => {
      const { got, want } = both(options, rope, c, 100 + i);
      expect(got, `call ${i}`).toEqual(want);
    });
  });

  it('the inverse is not served forward rows: forward then inverse on a warm Rope restores the input', () => {
    const rope = createRope({ headDim: D, base: 500000 }, 'native');
    const warm = inputs(30, 1);
    rope.applyQK(warm.q, warm.k, { qHeads: QH, kHeads: KH, positions: 4000 }); // rows 4000..4029 cached
    const { q, k } = inputs(30, 2);
    const q0 = q.slice();
    const k0 = k.slice();
    rope.applyQK(q, k, { qHeads: QH, kHeads: KH, positions: 4000 });
    expect(Math.max(...q.map((v, i) => Math.abs(v - q0[i])))).toBeGreaterThan(0.1); // it did rotate
    rope.applyQK(q, k, { qHeads: QH, kHeads: KH, positions: 4000, inverse: true });
    expect(Math.max(...q.map((v, i) => Math.abs(v - q0[i])))).toBeLessThan(1e-5);
    expect(Math.max(...k.map((v, i) => Math.abs(v - k0[i])))).toBeLessThan(1e-5);
  });

  it('a table per ISA: switching kernels between calls gives each ISA its own bits', () => {
    const options: RopeOptions = { headDim: D, base: 10000 };
    const rope = createRope(options, 'native');
    const isas = supportedIsas();
    try {
      for (let round = 0; round < 2; round++) {
        for (const isa of isas) {
          selectIsa(isa);
          const { got, want } = both(options, rope, { positions: 4090, tokens: 9 }, 7 + round);
          expect(got, `${isa} round ${round}`).toEqual(want);
        }
      }
    } finally {
      selectIsa(isas[0]);
    }
  });

  it('async calls racing sync calls on one Rope, same positions: every result as on a fresh Rope', async () => {
    const options: RopeOptions = { headDim: D, base: 500000 };
    const rope = createRope(options, 'native');
    const tokens = 300;
    const runs = Array.from({ length: 6 }, (_, i) => ({ ...inputs(tokens, 50 + i), seed: 50 + i }));
    const pending = runs.map((r, i) =>
      i % 2 === 0 ? rope.applyQKAsync(r.q, r.k, { qHeads: QH, kHeads: KH, positions: 0, threads: 2 }) : null,
    );
    runs.forEach((r, i) => {
      if (i % 2 === 1) rope.applyQK(r.q, r.k, { qHeads: QH, kHeads: KH, positions: 0 });
    });
    await Promise.all(pending);
    for (const r of runs) {
      const fresh = inputs(tokens, r.seed);
      createRope(options, 'native').applyQK(fresh.q, fresh.k, { qHeads: QH, kHeads: KH, positions: 0 });
      expect([...r.q, ...r.k], `seed ${r.seed}`).toEqual([...fresh.q, ...fresh.k]);
    }
  });

  it('q/k overlap errors come from the binding with the facade messages, arrays untouched', () => {
    const rope = createRope({ headDim: D }, 'native');
    const buf = inputs(2, 9).q; // 2 tokens * 3 heads * 64
    const before = buf.slice();
    const opts = { qHeads: 1, kHeads: 1, positions: 0 };
    expect(() => rope.applyQK(buf.subarray(0, 2 * D), buf.subarray(0, 2 * D), opts)).toThrow(
      'q and k are the same array: each row would be rotated twice',
    );
    expect(() => rope.applyQK(buf.subarray(0, 2 * D), buf.subarray(D, 3 * D), opts)).toThrow(
      'q and k overlap: some rotated row of q shares elements with one of k',
    );
    expect(buf).toEqual(before);
    // Neighbouring views of one buffer that do not overlap are fine: token 0 (position 0) stays,
    // token 1 of q and of k is rotated by position 1, the rest of the buffer is left alone.
    rope.applyQK(buf.subarray(0, 2 * D), buf.subarray(2 * D, 4 * D), opts);
    const want = new Map<number, number>();
    for (const at of [D, 3 * D]) for (const [i, v] of rotatedRowF32(before, at, D / 2, false, rope.invFreq, () => 1)) want.set(i, v);
    for (const at of [0, 2 * D]) for (let i = at; i < at + D; i++) want.set(i, before[i]);
    expect(rotationMisses(buf, before, want)).toEqual([]);
    expect(buf.subarray(D, 2 * D)).not.toEqual(before.subarray(D, 2 * D));
  });
});
