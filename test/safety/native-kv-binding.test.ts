// The raw addon's applyCache (the KV-cache write), called directly with hostile arguments: the
// binding re-checks everything lib/cache.ts checks and trusts nothing from JS; every refusal is a
// JS exception and every array it was given keeps every byte. A valid call is checked first
// (k's rotation and v in their slots, k and v unchanged), so a refusal below cannot come from a
// call that never worked.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../lib/abi.js';
import { addonPath } from '../helpers/addon.js';
import { bytes, refused } from '../helpers/refused.js';

const requireHere = createRequire(import.meta.url);
const addon = requireHere(addonPath()) as NativeAddon;

const D = 8; // headDim = rotaryDim
const H = 2;
const T = 3;
const SLOTS = 5;
const invFreq = Float64Array.from({ length: D / 2 }, (_, j) => 1 / 10000 ** ((2 * j) / D));

function desc(): Float64Array {
  const d = new Float64Array(20);
  d.set([1, T, 0, 0, 0, 0, 1, 1]); // batch, tokens, inverse, posOffset, posBatchStride, posRowStride, threads, attn
  d.set([0, 1, 0, 0, D, D], 8); // q: one head
  d.set([0, H, 0, 0, H * D, D], 14); // k
  return d;
}
// cache dtype f32, nhd, slots array, v written, v's block as k's
function cdesc(): Float64Array {
  return Float64Array.from([0, 0, -1, 1, 0, H, 0, 0, H * D, D]);
}
const data = (n: number, s = 0.37) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s + 0.1));


describe('NativeRope.applyCache re-checks every argument', () => {
  const setup = () => {
    const rope = new addon.NativeRope(D, D, 0, null, 1) as unknown as { applyCache: (...a: unknown[]) => void };
    const q = data(T * D), k = data(T * H * D, 0.21), v = data(T * H * D, 0.53);
    const kc = new Float32Array(SLOTS * H * D).fill(7), vc = new Float32Array(SLOTS * H * D).fill(7);
    const pos = Int32Array.from([5, 9, 300]);
    const slots = Int32Array.from([4, -1, 0]);
    return { rope, q, k, v, kc, vc, pos, slots };
  };

  it('a valid call: rows in their slots, -1 skipped, k and v unchanged', () => {
    const s = setup();
    const k0 = s.k.slice(), v0 = s.v.slice();
    s.rope.applyCache(s.q, s.k, s.pos, invFreq, desc(), s.v, s.kc, s.vc, s.slots, cdesc());
    expect(s.k).toEqual(k0);
    expect(s.v).toEqual(v0);
    for (const [t, slot] of [[0, 4], [2, 0]]) {
      for (let h = 0; h < H; h++) {
        const src = (t * H + h) * D, dst = (slot * H + h) * D;
        expect(Array.from(s.vc.subarray(dst, dst + D))).toEqual(Array.from(v0.subarray(src, src + D)));
        for (let j = 0; j < D / 2; j++) {
          const a = s.pos[t] * invFreq[j], c = Math.fround(Math.cos(a)), sn = Math.fround(Math.sin(a));
          const x = k0[src + j], y = k0[src + j + D / 2];
          expect(s.kc[dst + j]).toBeCloseTo(x * c - y * sn, 6);
          expect(s.kc[dst + j + D / 2]).toBeCloseTo(y * c + x * sn, 6);
        }
      }
    }
    for (const slot of [1, 2, 3]) expect(Array.from(s.kc.subarray(slot * H * D, (slot + 1) * H * D)).every((x) => x === 7)).toBe(true);
  });

  const cases: [string, (s: ReturnType<typeof setup>) => unknown[], ErrorConstructor, RegExp][] = [
    ['a slot past the cache', (s) => [s.v, s.kc, s.vc, Int32Array.from([4, 5, 0]), cdesc()], RangeError, /^slots\[1\] = 5 is not in \[-1, 5\)$/],
    ['a slot below -1', (s) => [s.v, s.kc, s.vc, Int32Array.from([-2, 1, 0]), cdesc()], RangeError, /^slots\[0\] = -2/],
    ['a slot twice', (s) => [s.v, s.kc, s.vc, Int32Array.from([3, 1, 3]), cdesc()], RangeError, /^slot 3 appears twice/],
    ['slots of the wrong length', (s) => [s.v, s.kc, s.vc, Int32Array.from([3, 1]), cdesc()], RangeError, /^slots\.length 2 is not tokens 3$/],
    ['a run past the cache', (s) => [s.v, s.kc, s.vc, null, Float64Array.from([0, 0, 3, 1, 0, H, 0, 0, H * D, D])], RangeError, /do not fit the cache's 5 slots/],
    ['a cache not whole rows', (s) => [s.v, s.kc.subarray(1), s.vc.subarray(1), s.slots, cdesc()], RangeError, /^cache\.k\.length 79 is not a positive multiple/],
    ['cache.v shorter than cache.k', (s) => [s.v, s.kc, s.vc.subarray(H * D), s.slots, cdesc()], RangeError, /^cache\.v\.length 64 differs/],
    ['a cache dtype out of range', (s) => [s.v, s.kc, s.vc, s.slots, Float64Array.from([3, 0, -1, 1, 0, H, 0, 0, H * D, D])], RangeError, /^cache dtype \(cdesc\)/],
    ['a cache array of the wrong kind', (s) => [s.v, new Uint16Array(SLOTS * H * D), s.vc, s.slots, cdesc()], TypeError, /^cache\.k must be a Float32Array/],
    ['v too short for its strides', (s) => [s.v.subarray(1), s.kc, s.vc, s.slots, cdesc()], RangeError, /^v\.length 47 is too short/],
    ['v heads other than k', (s) => [s.v, s.kc, s.vc, s.slots, Float64Array.from([0, 0, -1, 1, 0, 1, 0, 0, H * D, D])], RangeError, /^v heads 1 differ from k's 2$/],
    ['a cdesc too short', (s) => [s.v, s.kc, s.vc, s.slots, new Float64Array(4)], RangeError, /^cdesc\.length 4/],
    ['the cache over v', (s) => [s.v, new Float32Array(s.v.buffer), s.vc.subarray(0, T * H * D), Int32Array.from([2, -1, 0]), Float64Array.from([0, 0, -1, 1, 0, H, 0, 0, H * D, D])], RangeError, /^cache\.k shares memory with v/],
    ['cache.k and cache.v one array', (s) => [s.v, s.kc, s.kc, s.slots, cdesc()], RangeError, /^cache\.k and cache\.v share memory/],
  ];
  it.each(cases)('refuses %s, writing nothing', (_name, args, errorType, re) => {
    const s = setup();
    const a = args(s);
    const views = [s.q, s.k, s.v, s.kc, s.vc, ...a.filter((x): x is ArrayBufferView => ArrayBuffer.isView(x))];
    refused(() => s.rope.applyCache(s.q, s.k, s.pos, invFreq, desc(), ...a), views, errorType, re);
  });

  it('refuses a cache over positions, and v whose rows meet q (read while q is rotated)', () => {
    const s = setup();
    const shared = new Float32Array(64 + SLOTS * H * D);
    const pos = new Int32Array(shared.buffer, 0, T).fill(1);
    const kc = new Float32Array(shared.buffer, 0, SLOTS * H * D);
    refused(() => s.rope.applyCache(s.q, s.k, pos, invFreq, desc(), s.v, kc, s.vc, s.slots, cdesc()), [s.q, s.k, shared, s.vc], RangeError, /^cache\.k shares memory with positions/);
    const qkv = data(T * (1 + 2 * H) * D);
    const d = desc();
    d.set([0, 1, 0, 0, (1 + 2 * H) * D, D], 8); // q: head 0 of each token of a fused buffer
    d.set([0, H, 0, 0, (1 + 2 * H) * D, D], 14);
    const q = qkv, k = new Float32Array(qkv.buffer, D * 4), v = new Float32Array(qkv.buffer, 0); // v over q's rows
    const c = Float64Array.from([0, 0, -1, 1, 0, H, 0, 0, (1 + 2 * H) * D, D]);
    refused(() => s.rope.applyCache(q, k, s.pos, invFreq, d, v, s.kc, s.vc, s.slots, c), [qkv, s.kc, s.vc], RangeError, /^q and v overlap/);
  });
});
