// The threads option: threads 1, 2, 3 and 'auto' give bit-identical results on random calls (all
// layouts, batch, dtypes, styles, partial rotary, positions given or offset, q alone or q+k),
// sync and async; bad values are refused before any write. On the native engine the pool really
// runs (the addon reports its helper threads); the JS engine ignores threads.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../lib/abi.js';
import { Rope } from '../../lib/rope.js';
import { rng } from '../helpers/engine-ref.js';
import { loadTestingAddon } from '../helpers/addon.js';

const same = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const arbCall = fc.record({
  headDim: fc.integer({ min: 1, max: 40 }).map((h) => 2 * h),
  rotaryFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  style: fc.constantFrom('half' as const, 'interleaved' as const),
  dtype: fc.constantFrom('f32' as const, 'f16' as const, 'bf16' as const),
  layout: fc.constantFrom('shd' as const, 'bshd' as const, 'bhsd' as const),
  batch: fc.integer({ min: 1, max: 3 }),
  tokens: fc.integer({ min: 1, max: 70 }),
  qHeads: fc.integer({ min: 1, max: 4 }),
  kHeads: fc.integer({ min: 0, max: 3 }),
  perToken: fc.boolean(),
  start: fc.integer({ min: 0, max: 1 << 20 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

function tensor(n: number, dtype: string, r: () => number): Float32Array | Uint16Array {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = r() * 2 - 1;
  return dtype === 'f32' ? f : Uint16Array.from(new Uint32Array(f.buffer), (b) => b >>> 16);
}

describe('threads', () => {
  it("1, 2, 3 and 'auto' are bit-identical, sync and async (random calls)", async () => {
    await fc.assert(
      fc.asyncProperty(arbCall, async (c) => {
        const rotaryDim = Math.max(2, 2 * Math.round((c.rotaryFrac * c.headDim) / 2));
        const rope = new Rope({ headDim: c.headDim, rotaryDim, style: c.style });
        const batch = c.layout === 'shd' ? 1 : c.batch;
        const r = rng(c.seed);
        const q = tensor(batch * c.tokens * c.qHeads * c.headDim, c.dtype, r);
        const k = c.kHeads > 0 ? tensor(batch * c.tokens * c.kHeads * c.headDim, c.dtype, r) : null;
        const positions = c.perToken ? Int32Array.from({ length: c.tokens }, () => Math.floor(r() * 2 ** 31)) : c.start;
        const results: (Float32Array | Uint16Array)[][] = [];
        for (const threads of [1, 2, 3, 'auto'] as const) {
          for (const async of [false, true]) {
            const a = q.slice(), b = k?.slice() ?? null;
            const common = { positions, layout: c.layout, batch, dtype: c.dtype, threads };
            if (b === null) {
              const o = { heads: c.qHeads, ...common } as never;
              if (async) await rope.applyAsync(a as Float32Array, o);
              else rope.apply(a as Float32Array, o);
            } else {
              const o = { qHeads: c.qHeads, kHeads: c.kHeads, ...common } as never;
              if (async) await rope.applyQKAsync(a as Float32Array, b as Float32Array, o);
              else rope.applyQK(a as Float32Array, b as Float32Array, o);
            }
            results.push(b === null ? [a] : [a, b]);
          }
        }
        expect(same(results[0][0], q)).toBe(false); // something was rotated
        for (const res of results.slice(1)) res.forEach((x, i) => expect(same(x, results[0][i])).toBe(true));
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('a large call (S3: 512 tokens x 40 heads x 128) is identical for 1..8 threads', () => {
    const rope = new Rope({ headDim: 128, base: 500000 });
    const r = rng(3);
    const q0 = tensor(512 * 32 * 128, 'f32', r) as Float32Array;
    const k0 = tensor(512 * 8 * 128, 'f32', r) as Float32Array;
    let first: [Float32Array, Float32Array] | null = null;
    for (const threads of [1, 2, 3, 4, 5, 7, 8, 'auto'] as const) {
      const q = q0.slice(), k = k0.slice();
      rope.applyQK(q, k, { qHeads: 32, kHeads: 8, positions: 1000, threads });
      if (first === null) first = [q, k];
      else {
        expect(same(q, first[0])).toBe(true);
        expect(same(k, first[1])).toBe(true);
      }
    }
  });

  it('invalid threads are refused (TypeError/RangeError naming threads), arrays untouched', async () => {
    const rope = new Rope({ headDim: 8 });
    const x = Float32Array.from({ length: 4 * 8 }, (_, i) => i / 7);
    const before = x.slice();
    const bad: [unknown, ErrorConstructor][] = [
      [0, RangeError],
      [-1, RangeError],
      [1.5, RangeError],
      [1025, RangeError],
      [NaN, RangeError],
      [Infinity, RangeError],
      ['2', TypeError],
      ['AUTO', TypeError],
      [null, TypeError],
    ];
    for (const [threads, type] of bad) {
      const opts = { heads: 1, positions: 0, threads } as never;
      expect(() => rope.apply(x, opts)).toThrow(type);
      expect(() => rope.apply(x, opts)).toThrow(/threads/);
      await expect(rope.applyAsync(x, opts)).rejects.toThrow(type);
      expect(same(x, before)).toBe(true);
    }
  });

  // The addon itself (loaded directly, so this runs under ROPE_SIMD_BACKEND=js too): the testing
  // addon, whose poolThreads reports the pool its own NativeRope runs on.
  it('the native pool creates helper threads on demand; desc threads outside [0, 1024] throw', () => {
        const addon = loadTestingAddon<NativeAddon>();
    const D = 16, T = 64;
    const handle = new addon.NativeRope(D, D, 0, null, 1);
    const invFreq = Float64Array.from({ length: D / 2 }, (_, j) => 10000 ** (-(2 * j) / D));
    const desc = (threads: number) => {
      const d = new Float64Array(20);
      d.set([1, T, 0, 0, 0, 0, threads, 1]);
      d.set([0, 1, 0, T * D, D, D], 8);
      return d;
    };
    const x = Float32Array.from({ length: T * D }, (_, i) => Math.sin(i));
    const ref = x.slice();
    handle.apply(ref, null, null, invFreq, desc(1));
    handle.apply(x, null, null, invFreq, desc(4));
    expect(same(x, ref)).toBe(true);
    expect(addon.poolThreads()).toBeGreaterThanOrEqual(3); // 4 parts: the caller + 3 helpers
    for (const t of [-1, 1025, 2.5, NaN]) expect(() => handle.apply(x, null, null, invFreq, desc(t))).toThrow(/threads/);
    expect(same(x, ref)).toBe(true);
  });
});
