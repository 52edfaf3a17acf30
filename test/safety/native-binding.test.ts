// The raw addon, called directly with hostile arguments: every refusal is a JS exception, and the
// arrays it was given keep every byte. (ROPE_SIMD_ADDON picks the file: CI runs the node-gyp and
// the cmake-js build.) A valid call is checked first against a plain float64 rotation, so a refusal
// below cannot come from a call that never worked.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../lib/abi.js';
import { addonPath, loadTestingAddon } from '../helpers/addon.js';
import { bytes, refused } from '../helpers/refused.js';

const requireHere = createRequire(import.meta.url);
const addonFile = addonPath();
const addon = requireHere(addonFile) as NativeAddon;
// limitPass and limitPassQK: the testing addon's (the production addon does not export them).
const testing = loadTestingAddon<NativeAddon>();

const D = 8; // headDim = rotaryDim
const H = 2;
const T = 3;
const invFreq = Float64Array.from({ length: D / 2 }, (_, j) => 1 / 10000 ** ((2 * j) / D));

// shd layout, positions given, q and k of H heads.
function desc(): Float64Array {
  const d = new Float64Array(20);
  d.set([1, T, 0, 0, 0, 0, 1, 1]); // batch, tokens, inverse, posOffset, posBatchStride, posRowStride, threads, attn
  d.set([0, H, 0, T * H * D, H * D, D], 8); // q: dtype, heads, offset, batchStride, tokenStride, headStride
  d.set([0, H, 0, T * H * D, H * D, D], 14); // k
  return d;
}
const tensor = (n = T * H * D) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + 0.1));
const positions = () => Int32Array.from([5, 70000, 123]);


function reference(x: Float32Array, pos: Int32Array): number[] {
  const out = Array.from(x);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++)
      for (let j = 0; j < D / 2; j++) {
        const at = t * H * D + h * D;
        const a = pos[t] * invFreq[j];
        const [u, v] = [x[at + j], x[at + j + D / 2]];
        out[at + j] = u * Math.cos(a) - v * Math.sin(a);
        out[at + j + D / 2] = v * Math.cos(a) + u * Math.sin(a);
      }
  return out;
}

describe('native binding: a valid call', () => {
  it('rotates q and k as float64 math does (half style)', () => {
    const rope = new addon.NativeRope(D, D, 0, null, 1);
    const q = tensor();
    const k = tensor().map((v) => -v);
    const [rq, rk] = [reference(q, positions()), reference(k, positions())];
    rope.apply(q, k, positions(), invFreq, desc());
    for (let i = 0; i < q.length; i++) {
      expect(Math.abs(q[i] - rq[i])).toBeLessThan(1e-6);
      expect(Math.abs(k[i] - rk[i])).toBeLessThan(1e-6);
    }
  });

  it('accepts SharedArrayBuffer-backed views at any byteOffset, with the same result', () => {
    const rope = new addon.NativeRope(D, D, 0, null, 1);
    const plain = tensor();
    const shared = new Float32Array(new SharedArrayBuffer(4 * (plain.length + 3)), 12, plain.length);
    shared.set(plain);
    const d = desc();
    rope.apply(plain, null, positions(), invFreq, d);
    rope.apply(shared, null, positions(), invFreq, d);
    expect(Array.from(shared)).toEqual(Array.from(plain));
  });

  it('accepts a fused QKV buffer whose q and k rows interleave per token', () => {
    const rope = new addon.NativeRope(D, D, 0, null, 1);
    const qkv = tensor(T * 3 * H * D);
    const d = desc();
    d.set([0, H, 0, 0, 3 * H * D, D], 8);
    d.set([0, H, H * D, 0, 3 * H * D, D], 14);
    const vBefore = Array.from({ length: T }, (_, t) => Array.from(qkv.subarray(t * 3 * H * D + 2 * H * D, (t + 1) * 3 * H * D)));
    rope.apply(qkv, qkv, positions(), invFreq, d);
    for (let t = 0; t < T; t++) expect(Array.from(qkv.subarray(t * 3 * H * D + 2 * H * D, (t + 1) * 3 * H * D))).toEqual(vBefore[t]);
  });
});

describe('native binding: hostile arguments throw and write nothing', () => {
  // Untyped on purpose: these calls break the TypeScript contract the facade keeps.
  const rope = new addon.NativeRope(D, D, 0, null, 1) as unknown as { apply(...a: unknown[]): void };

  it('constructor', () => {
    const ctor = (...a: unknown[]) => () => new (addon.NativeRope as unknown as new (...x: unknown[]) => unknown)(...a);
    const none: ArrayBufferView[] = [];
    refused(ctor(D, D, 0, null), none, TypeError, /expected 5 arguments/);
    refused(ctor('8', D, 0, null, 1), none, TypeError, /headDim must be a number/);
    refused(ctor(NaN, D, 0, null, 1), none, RangeError, /headDim must be a finite integer, got NaN/);
    refused(ctor(7, 6, 0, null, 1), none, RangeError, /headDim 7 is not even/);
    refused(ctor(8, 10, 0, null, 1), none, RangeError, /rotaryDim 10 is out of range/);
    refused(ctor(2 ** 53, 8, 0, null, 1), none, RangeError, /headDim .* out of range/);
    refused(ctor(8, 8, 2, null, 1), none, RangeError, /style 2 is out of range/);
    refused(ctor(8, 8, 0, null, 0), none, RangeError, /sectionRows 0 is out of range/);
    refused(ctor(8, 8, 0, new Uint8Array(3), 1), none, RangeError, /pairSection.length 3 is not rotaryDim\/2 = 4/);
    refused(ctor(8, 8, 0, Uint8Array.from([0, 1, 2, 3]), 3), none, RangeError, /pairSection\[3\] = 3 is not below sectionRows 3/);
    refused(ctor(8, 8, 0, [0, 0, 0, 0], 1), none, TypeError, /pairSection must be a Uint8Array, got an Array/);
  });

  it('apply on something that is not a NativeRope, and the constructor without new', () => {
    const q = tensor();
    const apply = addon.NativeRope.prototype.apply as (...a: unknown[]) => void;
    for (const self of [{}, undefined, Object.create(addon.NativeRope.prototype)]) {
      refused(() => apply.call(self, q, null, positions(), invFreq, desc()), [q], TypeError, /Illegal invocation/);
    }
    refused(() => (addon.NativeRope as unknown as (...a: unknown[]) => void)(D, D, 0, null, 1), [], TypeError, /without 'new'/);
  });

  it('wrong array types', () => {
    const [q, k, p] = [tensor(), tensor(), positions()];
    const views = [q, k, p];
    refused(() => rope.apply(q, k, p, invFreq), views, TypeError, /expected 5 arguments/);
    refused(() => rope.apply([1, 2], k, p, invFreq, desc()), views, TypeError, /q must be a Float32Array for dtype 0 \(f32\), got an Array/);
    refused(() => rope.apply(new Uint16Array(q.length), k, p, invFreq, desc()), views, TypeError, /q must be a Float32Array .* got Uint16Array/);
    const d16 = desc();
    d16[8] = 1;
    refused(() => rope.apply(q, k, p, invFreq, d16), views, TypeError, /q must be a Uint16Array for dtype 1 \(f16\), got Float32Array/);
    refused(() => rope.apply(q, 'k', p, invFreq, desc()), views, TypeError, /k must be a Float32Array .* got a string/);
    refused(() => rope.apply(q, k, new Float32Array(3), invFreq, desc()), views, TypeError, /positions must be an Int32Array, got Float32Array/);
    refused(() => rope.apply(q, k, p, new Float32Array(4), desc()), views, TypeError, /invFreq must be a Float64Array/);
    refused(() => rope.apply(q, k, p, invFreq, new Float32Array(20)), views, TypeError, /desc must be a Float64Array/);
    refused(() => rope.apply(q, k, p, invFreq, new Float64Array(19)), views, RangeError, /desc.length 19 is less than 20/);
  });

  it('every descriptor number: NaN, Infinity, negative, fractional, 2^53', () => {
    const fields = [0, 1, 2, 3, 4, 5, 6, ...Array.from({ length: 12 }, (_, i) => 8 + i)];
    for (const at of fields) {
      for (const bad of [NaN, Infinity, -Infinity, -1, 0.5, 2 ** 53]) {
        const [q, k, p] = [tensor(), tensor(), positions()];
        const d = desc();
        d[at] = bad;
        refused(() => rope.apply(q, k, p, invFreq, d), [q, k, p, d], RangeError, /must be a finite integer|out of range|not below 2\^31|too short/);
      }
    }
    for (const bad of [NaN, Infinity, -Infinity]) {
      const [q, p] = [tensor(), positions()];
      const d = desc();
      d[7] = bad;
      refused(() => rope.apply(q, null, p, invFreq, d), [q, p], RangeError, /attentionScaling \(desc\) must be finite/);
    }
  });

  it('zero heads, batch or tokens', () => {
    for (const at of [0, 1, 9, 15]) {
      const [q, k, p] = [tensor(), tensor(), positions()];
      const d = desc();
      d[at] = 0;
      refused(() => rope.apply(q, k, p, invFreq, d), [q, k, p], RangeError, /out of range \[1,/);
    }
  });

  it('strides and offsets past the end', () => {
    const cases: Array<[number, number, RegExp]> = [
      [10, 1, /q.length 48 is too short: .* = 49/], // offset 1
      [10, T * H * D, /q.length 48 is too short/],
      [12, H * D + 1, /q.length 48 is too short/], // tokenStride
      [13, 2 ** 52, /q.length 48 is too short/], // headStride: huge but finite
      [9, H + 1, /q.length 48 is too short/], // heads
      [1, T + 1, /too short/], // tokens
      [16, 2 ** 53 - 1, /k.length 48 is too short/], // k offset at the largest safe integer
    ];
    for (const [at, v, re] of cases) {
      const [q, k, p] = [tensor(), tensor(), Int32Array.from([1, 2, 3, 4])];
      const d = desc();
      d[at] = v;
      refused(() => rope.apply(q, k, p, invFreq, d), [q, k, p], RangeError, re);
    }
    // (batch-1)*batchStride overflowing int64 must not wrap into range.
    const q = tensor();
    const d = desc();
    d[0] = 2 ** 40;
    d[11] = 2 ** 40;
    refused(() => rope.apply(q, null, null, invFreq, d), [q], RangeError, /too short: .*more than 2\^63/);
  });

  it('overlapping rows of one tensor', () => {
    const cases: Array<[number, number, RegExp]> = [
      [13, D - 1, /q headStride 7 is less than headDim 8/],
      [12, 0, /q rows overlap: tokenStride 0 is less than the 8 elements spanned inside it \(rotated row of 8\)/],
      [12, D, /q rows overlap: tokenStride 8 is less than the 16/],
    ];
    for (const [at, v, re] of cases) {
      const [q, p] = [tensor(), positions()];
      const d = desc();
      d[at] = v;
      refused(() => rope.apply(q, null, p, invFreq, d), [q, p], RangeError, re);
    }
    const [q, p] = [tensor(2 * T * H * D), Int32Array.from([1, 2, 3, 1, 2, 3])];
    const d = desc();
    d[0] = 2; // batch 2 ...
    d[11] = 0; // ... at batchStride 0: every row twice
    d[4] = T;
    refused(() => rope.apply(q, null, p, invFreq, d), [q, p], RangeError, /q rows overlap: batchStride 0/);
  });

  it('q and k sharing rows', () => {
    const [q, p] = [tensor(), positions()];
    refused(() => rope.apply(q, q, p, invFreq, desc()), [q, p], RangeError, /q and k overlap/);
    // Two views of one buffer: k starts half a row into q's last head of token 0.
    const buf = tensor(T * H * D + D / 2);
    const qv = new Float32Array(buf.buffer, 0, T * H * D);
    const kv = new Float32Array(buf.buffer, (D / 2) * 4, T * H * D);
    refused(() => rope.apply(qv, kv, p, invFreq, desc()), [buf, p], RangeError, /q and k overlap/);
    // Fused QKV where k's block starts inside q's block (general path: different head strides).
    const qkv = tensor(T * 3 * H * D);
    const d = desc();
    d.set([0, H, 0, 0, 3 * H * D, D], 8);
    d.set([0, H, D, 0, 3 * H * D, 2 * D], 14);
    refused(() => rope.apply(qkv, qkv, p, invFreq, d), [qkv, p], RangeError, /q and k overlap/);
  });

  it('positions: short, negative, past 2^31', () => {
    const q = tensor();
    refused(() => rope.apply(q, null, Int32Array.from([1, 2]), invFreq, desc()), [q], RangeError, /positions.length 2 is too short/);
    const neg = Int32Array.from([1, -2, 3]);
    refused(() => rope.apply(q, null, neg, invFreq, desc()), [q, neg], RangeError, /positions\[1\] = -2 is negative/);
    const d = desc();
    d[5] = 1; // a row stride with one row is unused; with batch 2 and a batch stride past the end:
    d[0] = 2;
    d[4] = 3;
    d[11] = T * H * D;
    const q2 = tensor(2 * T * H * D);
    refused(() => rope.apply(q2, null, positions(), invFreq, d), [q2], RangeError, /positions.length 3 is too short/);
    const d2 = desc();
    d2[3] = 2 ** 31 - 2; // offset: tokens 3 reach 2^31
    refused(() => rope.apply(q, null, null, invFreq, d2), [q], RangeError, /positionOffset \+ tokens - 1 = 2147483648 is not below 2\^31/);
    const m = new addon.NativeRope(D, D, 0, Uint8Array.from([0, 1, 1, 2]), 3) as unknown as typeof rope;
    const d3 = desc();
    d3[5] = T; // three rows of T, but only two given
    refused(() => m.apply(q, null, Int32Array.from([1, 2, 3, 4, 5, 6]), invFreq, d3), [q], RangeError, /positions.length 6 is too short for 3 row/);
  });

  it('invFreq: wrong length, non-finite', () => {
    const [q, p] = [tensor(), positions()];
    refused(() => rope.apply(q, null, p, new Float64Array(3), desc()), [q, p], RangeError, /invFreq.length 3 is not rotaryDim\/2 = 4/);
    const f = Float64Array.from(invFreq);
    f[2] = NaN;
    refused(() => rope.apply(q, null, p, f, desc()), [q, p], RangeError, /invFreq\[2\] must be finite and below 2\^21 in magnitude, got NaN/);
  });

  it('detached buffers', () => {
    const detach = (b: ArrayBuffer) => structuredClone(b, { transfer: [b] });
    const [k, p] = [tensor(), positions()];
    const q = tensor();
    detach(q.buffer as ArrayBuffer);
    refused(() => rope.apply(q, k, p, invFreq, desc()), [k, p], TypeError, /q's ArrayBuffer is detached/);
    const q2 = tensor();
    const p2 = positions();
    detach(p2.buffer as ArrayBuffer);
    refused(() => rope.apply(q2, null, p2, invFreq, desc()), [q2], TypeError, /positions's ArrayBuffer is detached/);
    const f = Float64Array.from(invFreq);
    detach(f.buffer as ArrayBuffer);
    refused(() => rope.apply(q2, null, positions(), f, desc()), [q2], TypeError, /invFreq's ArrayBuffer is detached/);
    const l = tensor();
    detach(l.buffer as ArrayBuffer);
    refused(() => testing.limitPass(l, 0, 2), [], TypeError, /array's ArrayBuffer is detached/);
  });

  it('the production addon exports NativeRope and ISA selection, no test or bench hook', () => {
    expect(Object.keys(addon).sort()).toEqual(['NativeRope', 'isa', 'selectIsa', 'supportedIsas']);
    // The testing addon: the same exports plus the hooks.
    expect(Object.keys(testing).sort()).toEqual(['NativeRope', 'convertInto', 'isa', 'limitPass', 'limitPassQK', 'poolThreads', 'readArgs', 'runsInPlace', 'selectIsa', 'supportedIsas']);
  });

  it('limitPass and selectIsa', () => {
    const a = tensor();
    refused(() => testing.limitPass(a, 1, 2), [a], TypeError, /array must be a Uint16Array for dtype 1/);
    refused(() => testing.limitPass(a, 0, NaN), [a], RangeError, /factor must be finite, got NaN/);
    refused(() => testing.limitPass(a, 3, 2), [a], RangeError, /dtype 3 is out of range/);
    const before = Array.from(a);
    testing.limitPass(a, 0, 2);
    expect(Array.from(a)).toEqual(before.map((v) => Math.fround(v * 2)));
    // limitPassQK: both arrays, whole or token by token (q's rows, then k's), on one or two
    // threads, at every offset from a vector boundary: x * factor, rounded once, every element
    for (const [tokens, threads] of [[undefined, 1], [undefined, 2], [3, 1], [3, 2], [1, 1]] as const) {
      for (let off = 0; off < 9; off++) {
        const buf = new Float32Array(off + 3 * 40 + 3 * 24 + 8).map((_, i) => 0.37 * i - 7);
        const q = buf.subarray(off, off + 3 * 40);
        const k = buf.subarray(off + 3 * 40 + 4, off + 3 * 40 + 4 + 3 * 24);
        const want = Array.from(buf, (v, i) => ((i >= off && i < off + 120) || (i >= off + 124 && i < off + 196) ? Math.fround(v * 3) : v));
        testing.limitPassQK(q, k, 0, 3, threads, tokens);
        expect(Array.from(buf), `tokens ${tokens} threads ${threads} offset ${off}`).toEqual(want);
      }
    }
    const q = new Float32Array(10), k = new Float32Array(4);
    refused(() => testing.limitPassQK(q, k, 0, 1, 1, 3), [q, k], RangeError, /q.length 10 and k.length 4 must both be multiples of tokens 3/);
    refused(() => testing.limitPassQK(q, k, 0, 1, 1, 0), [q, k], RangeError, /tokens 0 is out of range/);
    // The KV cache bench's floor (bench/kv-cache.mjs): readArgs only reads; convertInto writes v
    // from element `at`, rounded once (bf16 nearest-even on the bits), and refuses anything else
    // without a write. Like the step it reads memory by bytes: the cache must hold whole aligned
    // elements of the dtype, and v whole aligned floats.
    const v = new Float32Array([1.5, -2.25, 3.140625, 1 + 2 ** -8, 1 + 3 * 2 ** -8, NaN, -0, 65504]);
    const f = new Float32Array(12).fill(7), b = new Uint16Array(12).fill(7);
    expect(testing.readArgs(0b11, v, f, 4, 0)).toBe(true);
    expect(Array.from(f)).toEqual(new Array(12).fill(7));
    expect(testing.convertInto(0b11, v, f, 4, 0)).toBe(true);
    expect(Array.from(f)).toEqual([7, 7, 7, 7, ...Array.from(v)]);
    expect(testing.convertInto(0b11, v, b, 3, 2)).toBe(true);
    // 1 + 2^-8 ties to even (1.0); 1 + 3*2^-8 ties up (1 + 2^-6); NaN keeps its top half, quiet.
    expect(Array.from(b, (x) => x.toString(16))).toEqual(['7', '7', '7', '3fc0', 'c010', '4049', '3f80', '3f82', '7fc0', '8000', '4780', '7']);
    const odd = new Uint8Array(new ArrayBuffer(40), 1, 32).fill(7), ragged = new Uint8Array(35).fill(7);
    for (const [at, dtype, into] of [[5, 0, f], [-1, 0, f], [0.5, 0, f], [0, 0, b], [0, 3, b], [0, 2, odd], [0, 0, ragged]] as const) {
      const before = Array.from(into);
      expect(testing.convertInto(0b11, v, into, at, dtype), `at ${at} dtype ${dtype}`).toBe(false);
      expect(Array.from(into)).toEqual(before);
    }
    refused(() => addon.selectIsa('bogus'), [], Error, /bogus/);
    refused(() => addon.selectIsa(42 as never), [], TypeError, /name must be a string, got number 42/);
    expect(addon.supportedIsas()).toContain(addon.isa());
  });
});
