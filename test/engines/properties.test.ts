// Properties of the rotation through the public Rope (the default backend, and the JS engine
// forced when the default is native). Data comes from a seeded generator so runs stay cheap.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rope, backendInfo } from '../../lib/index.js';
import { createRope } from '../../lib/internal.js';
import type { RopeOptions } from '../../lib/types.js';
import { rng } from '../helpers/engine-ref.js';

const makers: Array<[string, (o: RopeOptions) => Rope]> = [[`Rope (${backendInfo.backend})`, (o) => new Rope(o)]];
if (backendInfo.backend !== 'js') makers.push(['Rope (js forced)', (o) => createRope(o, 'js')]);

const RUNS = 40;

function randomF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}
/** f16/bf16 bit patterns of magnitude in [1/8, 2), random sign. */
function random16(n: number, seed: number, dtype: 'f16' | 'bf16'): Uint16Array {
  const r = rng(seed);
  const lo = dtype === 'f16' ? 0x3000 : 0x3e00;
  return Uint16Array.from({ length: n }, () => (r() < 0.5 ? 0x8000 : 0) | (lo + Math.floor(r() * (0x4000 - lo))));
}
function bits(a: Float32Array | Uint16Array): Uint32Array | Uint16Array {
  return a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a;
}
function sameBits(a: Float32Array | Uint16Array, b: Float32Array | Uint16Array): boolean {
  const x = bits(a);
  const y = bits(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

const headDimArb = fc.integer({ min: 1, max: 40 }).map((h) => 2 * h);
const styleArb = fc.constantFrom<'half' | 'interleaved'>('half', 'interleaved');
const baseArb = fc.constantFrom(10000, 500000, 1e6);
const posArb = fc.integer({ min: 0, max: 2 ** 24 - 1 });
const seedArb = fc.integer({ min: 1, max: 2 ** 30 });

for (const [name, make] of makers) {
  describe(`properties: ${name}`, () => {
    it('relative position: dot(R(m)q, R(n)k) = dot(R(m+s)q, R(n+s)k)', () => {
      fc.assert(
        fc.property(headDimArb, styleArb, baseArb, posArb, posArb, posArb, seedArb, (d, style, base, m, n, s, seed) => {
          const rope = make({ headDim: d, style, base });
          const q = randomF32(d, seed);
          const k = randomF32(d, seed + 1);
          const rot = (x: Float32Array, p: number) => {
            const y = x.slice();
            rope.apply(y, { heads: 1, positions: p });
            return y;
          };
          const a = dot(rot(q, m), rot(k, n));
          const b = dot(rot(q, m + s), rot(k, n + s));
          expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * (1 + norm(q) * norm(k)));
        }),
        { numRuns: RUNS },
      );
    });

    it('preserves norms and inverse undoes apply (f32, f16)', () => {
      fc.assert(
        fc.property(headDimArb, styleArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), posArb, seedArb, (d, style, heads, tokens, p, seed) => {
          const rope = make({ headDim: d, style });
          const x = randomF32(tokens * heads * d, seed);
          const y = x.slice();
          rope.apply(y, { heads, positions: p });
          for (let r = 0; r < tokens * heads; r++) {
            const a = norm(x.subarray(r * d, (r + 1) * d));
            const b = norm(y.subarray(r * d, (r + 1) * d));
            expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * (1 + a));
          }
          rope.apply(y, { heads, positions: p, inverse: true });
          for (let i = 0; i < x.length; i++) expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(1e-6);
          const h = random16(tokens * heads * d, seed, 'f16');
          const h2 = h.slice();
          rope.apply(h2, { heads, positions: p, dtype: 'f16' });
          rope.apply(h2, { heads, positions: p, dtype: 'f16', inverse: true });
          const f16 = (v: number) => (v & 0x7c00 ? (1 + (v & 0x3ff) / 1024) * 2 ** (((v >>> 10) & 0x1f) - 15) : (v & 0x3ff) * 2 ** -24) * (v & 0x8000 ? -1 : 1);
          for (let i = 0; i < h.length; i++) expect(Math.abs(f16(h2[i]) - f16(h[i]))).toBeLessThanOrEqual(2 * 2 ** -10 * 2);
        }),
        { numRuns: RUNS },
      );
    });

    it("'shd', 'bshd' and 'bhsd' agree on the same data (bit-identical)", () => {
      fc.assert(
        fc.property(headDimArb, styleArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), seedArb, (d, style, B, T, H, perBatch, seed) => {
          const rope = make({ headDim: d, style });
          const r = rng(seed);
          const positions = Int32Array.from({ length: perBatch ? B * T : T }, () => Math.floor(r() * 100000));
          const bshd = randomF32(B * T * H * d, seed);
          const bhsd = new Float32Array(bshd.length);
          const at = (b: number, t: number, h: number, order: 'bshd' | 'bhsd') => (order === 'bshd' ? ((b * T + t) * H + h) * d : ((b * H + h) * T + t) * d);
          for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) bhsd.set(bshd.subarray(at(b, t, h, 'bshd'), at(b, t, h, 'bshd') + d), at(b, t, h, 'bhsd'));
          const shd = bshd.slice();
          rope.apply(bshd, { heads: H, positions, layout: 'bshd', batch: B });
          rope.apply(bhsd, { heads: H, positions, layout: 'bhsd', batch: B });
          for (let b = 0; b < B; b++) {
            const rows = perBatch ? positions.subarray(b * T, (b + 1) * T) : positions;
            rope.apply(shd.subarray(b * T * H * d, (b + 1) * T * H * d), { heads: H, positions: rows });
          }
          expect(sameBits(shd, bshd)).toBe(true);
          for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) {
            expect(sameBits(bshd.subarray(at(b, t, h, 'bshd'), at(b, t, h, 'bshd') + d), bhsd.subarray(at(b, t, h, 'bhsd'), at(b, t, h, 'bhsd') + d))).toBe(true);
          }
        }),
        { numRuns: RUNS },
      );
    });

    it('applyQK = apply(q) + apply(k), bit-identical, every dtype', () => {
      fc.assert(
        fc.property(headDimArb, styleArb, fc.constantFrom('f32', 'f16', 'bf16'), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), posArb, fc.boolean(), seedArb, (d, style, dtype, qH, kH, T, p, inverse, seed) => {
          const rope = make({ headDim: d, style });
          const gen = (n: number, s: number) => (dtype === 'f32' ? randomF32(n, s) : random16(n, s, dtype));
          const q = gen(T * qH * d, seed);
          const k = gen(T * kH * d, seed + 7);
          const q1 = q.slice();
          const k1 = k.slice();
          const positions = Array.from({ length: T }, (_, t) => p + 3 * t);
          const common = { positions, inverse, ...(dtype === 'f32' ? {} : { dtype }) } as { positions: number[]; inverse: boolean; dtype?: 'f16' };
          rope.applyQK(q as Float32Array, k as Float32Array, { qHeads: qH, kHeads: kH, ...common } as { qHeads: number; kHeads: number; positions: number[] });
          rope.apply(q1 as Float32Array, { heads: qH, ...common } as { heads: number; positions: number[] });
          rope.apply(k1 as Float32Array, { heads: kH, ...common } as { heads: number; positions: number[] });
          expect(sameBits(q, q1)).toBe(true);
          expect(sameBits(k, k1)).toBe(true);
        }),
        { numRuns: RUNS },
      );
    });

    it('partial rotary leaves dims >= rotaryDim bit-identical (NaN payloads included)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), styleArb, fc.integer({ min: 1, max: 4 }), posArb, seedArb, (rHalf, extra, style, heads, p, seed) => {
          const rotaryDim = 2 * rHalf;
          const d = rotaryDim + 2 * extra;
          const rope = make({ headDim: d, rotaryDim, style });
          const x = randomF32(3 * heads * d, seed);
          const xb = bits(x);
          for (let i = 0; i < x.length; i++) if (i % d >= rotaryDim && i % 3 === 0) xb[i] = 0x7fa00001 + i; // signalling NaNs
          const before = x.slice();
          rope.apply(x, { heads, positions: p });
          const bb = bits(before);
          let changed = 0;
          for (let i = 0; i < x.length; i++) {
            if (i % d >= rotaryDim) expect(xb[i]).toBe(bb[i]);
            else if (xb[i] !== bb[i]) changed++;
          }
          if (p > 0) expect(changed).toBeGreaterThan(0);
        }),
        { numRuns: RUNS },
      );
    });

    it('SharedArrayBuffer-backed views give the same bits as ArrayBuffer ones', () => {
      fc.assert(
        fc.property(headDimArb, styleArb, fc.constantFrom('f32', 'bf16'), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 4 }), posArb, seedArb, (d, style, dtype, lead, T, p, seed) => {
          const rope = make({ headDim: d, style });
          const n = T * 2 * d;
          const el = dtype === 'f32' ? 4 : 2;
          const src = dtype === 'f32' ? randomF32(n, seed) : random16(n, seed, 'bf16');
          const view = (buf: ArrayBufferLike) => (dtype === 'f32' ? new Float32Array(buf, lead * el, n) : new Uint16Array(buf, lead * el, n));
          const a = view(new ArrayBuffer((n + lead + 3) * el));
          const s = view(new SharedArrayBuffer((n + lead + 3) * el));
          a.set(src as never);
          s.set(src as never);
          const opts = { heads: 2, positions: p, ...(dtype === 'bf16' ? { dtype: 'bf16' as const } : {}) };
          rope.apply(a as Float32Array, opts as { heads: number; positions: number });
          rope.apply(s as Float32Array, opts as { heads: number; positions: number });
          expect(sameBits(a, s)).toBe(true);
        }),
        { numRuns: RUNS },
      );
    });

    it('q and k rotated inside a fused QKV buffer: v untouched, q and k as if separate', () => {
      fc.assert(
        fc.property(headDimArb, styleArb, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), posArb, seedArb, (d, style, qH, kvH, T, p, seed) => {
          const rope = make({ headDim: d, style });
          const W = (qH + 2 * kvH) * d;
          const qkv = randomF32(T * W, seed);
          const before = qkv.slice();
          const qSep = new Float32Array(T * qH * d);
          const kSep = new Float32Array(T * kvH * d);
          for (let t = 0; t < T; t++) {
            qSep.set(qkv.subarray(t * W, t * W + qH * d), t * qH * d);
            kSep.set(qkv.subarray(t * W + qH * d, t * W + (qH + kvH) * d), t * kvH * d);
          }
          rope.applyQK(qkv.subarray(0), qkv.subarray(qH * d), { qHeads: qH, kHeads: kvH, positions: p, tokenStride: W, tokens: T });
          rope.applyQK(qSep, kSep, { qHeads: qH, kHeads: kvH, positions: p });
          for (let t = 0; t < T; t++) {
            const row = t * W;
            expect(sameBits(qkv.subarray(row, row + qH * d), qSep.subarray(t * qH * d, (t + 1) * qH * d))).toBe(true);
            expect(sameBits(qkv.subarray(row + qH * d, row + (qH + kvH) * d), kSep.subarray(t * kvH * d, (t + 1) * kvH * d))).toBe(true);
            expect(sameBits(qkv.subarray(row + (qH + kvH) * d, row + W), before.subarray(row + (qH + kvH) * d, row + W))).toBe(true);
          }
        }),
        { numRuns: RUNS },
      );
    });
  });
}
