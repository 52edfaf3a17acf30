// applyQK with a cache, decode-sized, on the native engine: the facade hands it to the binding's
// step (no general applyCache call), which writes exactly the JS engine's bytes (q, both caches;
// k and v unchanged) for every dtype pair, layout, style, slots form and positions form; a call
// past the step's fast case (more than 16 slots in an Int32Array) takes the general call.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../lib/backend.js';
import { createRope } from '../../lib/rope.js';
import { rng } from '../helpers/engine-ref.js';

type Arr = Float32Array | Uint16Array;
const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

// Finite values of dtype (16-bit as bits), magnitudes 2^-6..4 (and zeros).
function tensor(n: number, dtype: string, r: () => number): Arr {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = (r() * 2 - 1) * 2 ** Math.floor(r() * 8 - 6);
  if (dtype === 'f32') return f;
  if (dtype === 'bf16') return Uint16Array.from(new Uint32Array(f.buffer), (b) => b >>> 16);
  return Uint16Array.from(f, (x) => f16Bits(x));
}

// The f16 bits of x (|x| < 2; truncated: any finite f16 will do).
function f16Bits(x: number): number {
  const a = Math.abs(x);
  const sign = x < 0 ? 0x8000 : 0;
  if (a < 2 ** -14) return sign | Math.floor(a * 2 ** 24); // zero or subnormal
  const e = Math.floor(Math.log2(a));
  const m = Math.floor((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | m;
}

const arbCall = fc.record({
  headDim: fc.integer({ min: 1, max: 24 }).map((h) => 2 * h),
  partial: fc.boolean(),
  style: fc.constantFrom('half' as const, 'interleaved' as const),
  dtype: fc.constantFrom('f32' as const, 'f16' as const, 'bf16' as const),
  cacheDtype: fc.constantFrom('f32' as const, 'f16' as const, 'bf16' as const),
  layout: fc.constantFrom(undefined, 'nhd' as const, 'hnd' as const),
  tokens: fc.integer({ min: 1, max: 16 }),
  qHeads: fc.integer({ min: 1, max: 4 }),
  kHeads: fc.integer({ min: 1, max: 3 }),
  extraSlots: fc.integer({ min: 0, max: 5 }),
  slots: fc.constantFrom('run' as const, 'int32' as const),
  withV: fc.boolean(),
  positions: fc.constantFrom('number' as const, 'int32' as const),
  threads: fc.constantFrom(undefined, 1, 'auto' as const),
  start: fc.integer({ min: 0, max: 1 << 20 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

describe.runIf(nativeAddon !== null)('applyQK with a cache on the native engine, decode-sized', () => {
  type Ctor = new (...a: unknown[]) => { applyCache(...a: unknown[]): unknown };
  const addon = nativeAddon as unknown as { NativeRope: Ctor };

  // Counts the general cache call of the Ropes made while fn runs (their handles are a subclass).
  function countingApplyCache(fn: () => void): number {
    const original = addon.NativeRope;
    let calls = 0;
    addon.NativeRope = class extends original {
      override applyCache(...a: unknown[]): unknown {
        calls++;
        return super.applyCache(...a);
      }
    };
    try {
      fn();
    } finally {
      addon.NativeRope = original;
    }
    return calls;
  }

  it("takes the binding's step and writes the JS engine's bytes (random calls)", () => {
    const calls = countingApplyCache(() =>
      fc.assert(
        fc.property(arbCall, (c) => {
          const r = rng(c.seed);
          const rotaryDim = c.partial && c.headDim > 2 ? c.headDim - 2 : c.headDim;
          const ropeOptions = { headDim: c.headDim, rotaryDim, style: c.style, base: 10000 };
          const row = c.kHeads * c.headDim;
          const slotCount = c.tokens + c.extraSlots;
          const q = tensor(c.tokens * c.qHeads * c.headDim, c.dtype, r);
          const k = tensor(c.tokens * row, c.dtype, r);
          const v = tensor(c.tokens * row, c.dtype, r);
          let slots: number | Int32Array = c.extraSlots;
          if (c.slots === 'int32') {
            // distinct slots, some tokens skipped
            const order = Array.from({ length: slotCount }, (_, i) => i).sort(() => r() - 0.5);
            slots = Int32Array.from({ length: c.tokens }, (_, t) => (r() < 0.2 ? -1 : order[t]));
          }
          const positions = c.positions === 'number' ? c.start : Int32Array.from({ length: c.tokens }, (_, t) => c.start + ((t * 7919) % 5000));
          const run = (engine: 'native' | 'js') => {
            const cache = (fill: number) => (c.cacheDtype === 'f32' ? new Float32Array(slotCount * row).fill(fill) : new Uint16Array(slotCount * row).fill(fill));
            const out = { q: q.slice(), k: k.slice(), v: v.slice(), kc: cache(0x3c00), vc: cache(0x4000) };
            const opts: Record<string, unknown> = {
              qHeads: c.qHeads,
              kHeads: c.kHeads,
              positions,
              dtype: c.dtype,
              threads: c.threads,
              cache: { k: out.kc, slots, dtype: c.cacheDtype, layout: c.layout, ...(c.withV ? { v: out.vc } : {}) },
              ...(c.withV ? { v: out.v } : {}),
            };
            createRope(ropeOptions, engine).applyQK(out.q, out.k, opts as never);
            return out;
          };
          const n = run('native');
          const j = run('js');
          for (const key of ['q', 'k', 'v', 'kc', 'vc'] as const) expect(bytes(n[key]).equals(bytes(j[key])), key).toBe(true);
          expect(bytes(n.k).equals(bytes(k)) && bytes(n.v).equals(bytes(v))).toBe(true);
        }),
        { numRuns: 300 },
      ),
    );
    expect(calls).toBe(0);
  });

  it('takes the general call past the step (17 slots in an Int32Array), with the same bytes', () => {
    const D = 8;
    const tokens = 17;
    const slots = Int32Array.from({ length: tokens }, (_, t) => tokens - 1 - t);
    const results = (['native', 'js'] as const).map((engine) => {
      const q = new Float32Array(tokens * 2 * D).map((_, i) => Math.sin(i));
      const k = new Float32Array(tokens * D).map((_, i) => Math.cos(i));
      const kc = new Float32Array(tokens * D);
      let calls = 0;
      const run = () => createRope({ headDim: D }, engine).applyQK(q, k, { qHeads: 2, kHeads: 1, positions: 9, cache: { k: kc, slots } });
      if (engine === 'native') calls = countingApplyCache(run);
      else run();
      return { q, kc, calls };
    });
    expect(results[0].calls).toBe(1);
    expect(bytes(results[0].q).equals(bytes(results[1].q))).toBe(true);
    expect(bytes(results[0].kc).equals(bytes(results[1].kc))).toBe(true);
  });
});
