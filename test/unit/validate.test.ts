// Every bad input gets a TypeError/RangeError that names the parameter, and leaves every array's
// bytes as they were. Then the unusual-but-valid inputs that must be accepted.
import { describe, expect, it } from 'vitest';
import { Rope } from '../../lib/index.js';
import { rotatedRowF32, rotationMisses } from '../helpers/exact-angle.js';

const D = 8; // headDim
const H = 2; // heads for apply
const T = 3; // tokens
const QH = 4;
const KH = 2;

const rope = new Rope({ headDim: D });
const mrope = new Rope({ headDim: D, mropeSection: [2, 1, 1] });

function fill<T extends Float32Array | Uint16Array>(a: T): T {
  for (let i = 0; i < a.length; i++) a[i] = a instanceof Float32Array ? Math.sin(0.37 * i + 1) : (0x3c00 + 37 * i) & 0x7bff;
  return a;
}

function detach(buf: ArrayBuffer): void {
  const transfer = (buf as { transfer?: () => ArrayBuffer }).transfer;
  if (typeof transfer === 'function') transfer.call(buf);
  else structuredClone(buf, { transfer: [buf] });
}

/** Creates the arrays of one case and remembers their bytes at creation. */
class Tracker {
  readonly seen: { v: ArrayBufferView; bytes: Uint8Array }[] = [];
  track<V extends ArrayBufferView>(v: V): V {
    this.seen.push({ v, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice() });
    return v;
  }
  f32(n: number): Float32Array {
    return this.track(fill(new Float32Array(n)));
  }
  u16(n: number): Uint16Array {
    return this.track(fill(new Uint16Array(n)));
  }
  x(): Float32Array {
    return this.f32(T * H * D);
  }
  unchanged(): void {
    for (const { v, bytes } of this.seen) {
      if (v.buffer.byteLength === 0) continue; // detached on purpose: no bytes left to compare
      expect(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).toEqual(bytes);
    }
  }
}

type Case = [name: string, kind: typeof TypeError | typeof RangeError, names: string, call: (t: Tracker) => void];

// Positions whose first entries are fine: a facade that wrote before checking would rotate them.
const badTail = (v: number) => [5, 6, v];
const P = 5;

const applyCases: Case[] = [
  // x
  ['x a number[]', TypeError, 'x', () => rope.apply([1, 2, 3] as unknown as Float32Array, { heads: H, positions: P })],
  ['x a Float64Array', TypeError, 'Float64Array', (t) => rope.apply(t.track(new Float64Array(48)) as unknown as Float32Array, { heads: H, positions: P })],
  ['x an Int16Array', TypeError, 'Int16Array', (t) => rope.apply(t.track(new Int16Array(48)) as unknown as Float32Array, { heads: H, positions: P })],
  ['x a Buffer', TypeError, 'x', (t) => rope.apply(t.track(Buffer.alloc(192)) as unknown as Float32Array, { heads: H, positions: P })],
  ['x a DataView', TypeError, 'DataView', (t) => rope.apply(t.track(new DataView(new ArrayBuffer(192))) as unknown as Float32Array, { heads: H, positions: P })],
  ['x null', TypeError, 'x', () => rope.apply(null as unknown as Float32Array, { heads: H, positions: P })],
  ['x.length one short', RangeError, 'x.length 47', (t) => rope.apply(t.f32(47), { heads: H, positions: P })],
  ['x.length one long', RangeError, 'x.length 49', (t) => rope.apply(t.f32(49), { heads: H, positions: P })],
  ['x detached', TypeError, "x's buffer is detached", (t) => {
    const x = t.x();
    detach(x.buffer as ArrayBuffer);
    rope.apply(x, { heads: H, positions: P });
  }],
  // dtype
  ['Uint16Array without dtype', TypeError, 'dtype is required', (t) => rope.apply(t.u16(48), { heads: H, positions: P } as never)],
  ['Uint16Array with f32', TypeError, "dtype 'f32'", (t) => rope.apply(t.u16(48), { heads: H, positions: P, dtype: 'f32' } as never)],
  ['Float32Array with bf16', TypeError, "dtype 'bf16'", (t) => rope.apply(t.x(), { heads: H, positions: P, dtype: 'bf16' } as never)],
  ['unknown dtype', TypeError, 'dtype', (t) => rope.apply(t.u16(48), { heads: H, positions: P, dtype: 'f64' } as never)],
  // options object
  ['opts missing', TypeError, 'options', (t) => (rope.apply as (x: unknown) => void)(t.x())],
  ['opts a number', TypeError, 'options', (t) => rope.apply(t.x(), 4 as never)],
  // heads
  ['heads missing', TypeError, 'heads', (t) => rope.apply(t.x(), { positions: P } as never)],
  ['heads a string', TypeError, 'heads', (t) => rope.apply(t.x(), { heads: '2' as never, positions: P })],
  ...[0, -2, 1.5, NaN, Infinity, -Infinity, 2 ** 53].map(
    (v): Case => [`heads ${v}`, RangeError, 'heads', (t) => rope.apply(t.x(), { heads: v, positions: P })],
  ),
  ['heads 2^31 (not a divisor)', RangeError, 'heads*headDim', (t) => rope.apply(t.x(), { heads: 2 ** 31, positions: P })],
  ['heads 5 (not a divisor)', RangeError, 'x.length 48 is not a multiple of heads*headDim = 40', (t) =>
    rope.apply(t.x(), { heads: 5, positions: P })],
  // layout, batch, tokens
  ['layout unknown', TypeError, 'layout', (t) => rope.apply(t.x(), { heads: H, positions: P, layout: 'sbhd' as never })],
  ['batch with shd', RangeError, 'batch', (t) => rope.apply(t.x(), { heads: H, positions: P, batch: 3 })],
  ...[0, -1, 1.5, NaN, 2 ** 31 + 0.5].map(
    (v): Case => [`batch ${v}`, RangeError, 'batch', (t) => rope.apply(t.x(), { heads: H, positions: P, layout: 'bshd', batch: v })],
  ),
  ['batch a string', TypeError, 'batch', (t) => rope.apply(t.x(), { heads: H, positions: P, layout: 'bshd', batch: '3' as never })],
  ['batch 2 (not a divisor)', RangeError, 'batch*heads*headDim', (t) =>
    rope.apply(t.x(), { heads: H, positions: P, layout: 'bhsd', batch: 2 })],
  ['tokens 0', RangeError, 'tokens', (t) => rope.apply(t.x(), { heads: H, positions: P, tokens: 0 })],
  ['tokens mismatch', RangeError, 'tokens 4', (t) => rope.apply(t.x(), { heads: H, positions: P, tokens: 4 })],
  ['tokens fractional', RangeError, 'tokens', (t) => rope.apply(t.x(), { heads: H, positions: P, tokens: 2.5 })],
  // tokenStride
  ['tokenStride without tokens', TypeError, 'tokenStride needs tokens', (t) => rope.apply(t.x(), { heads: H, positions: P, tokenStride: 16 })],
  ['tokenStride with bhsd', TypeError, 'tokenStride', (t) =>
    rope.apply(t.x(), { heads: H, positions: P, layout: 'bhsd', tokens: T, tokenStride: 16 })],
  ['tokenStride overlapping rows', RangeError, 'tokenStride 15', (t) =>
    rope.apply(t.x(), { heads: H, positions: P, tokens: T, tokenStride: 15 })],
  ['tokenStride past the end', RangeError, 'tokenStride 17', (t) =>
    rope.apply(t.x(), { heads: H, positions: P, tokens: T, tokenStride: 17 })],
  ['tokenStride past the end (bshd)', RangeError, 'batch*tokens 6', (t) =>
    rope.apply(t.f32(96), { heads: H, positions: P, layout: 'bshd', batch: 2, tokens: T, tokenStride: 17 })],
  ['tokens past the end with tokenStride', RangeError, 'tokens 4', (t) =>
    rope.apply(t.x(), { heads: H, positions: P, tokens: 4, tokenStride: 16 })],
  ...[0, -16, 16.5, NaN, 2 ** 53].map(
    (v): Case => [`tokenStride ${v}`, RangeError, 'tokenStride', (t) => rope.apply(t.x(), { heads: H, positions: P, tokens: T, tokenStride: v })],
  ),
  // positions
  ['positions missing', TypeError, 'positions is required', (t) => rope.apply(t.x(), { heads: H } as never)],
  ['positions a string', TypeError, 'positions', (t) => rope.apply(t.x(), { heads: H, positions: '5' as never })],
  ['positions a Float32Array', TypeError, 'Float32Array', (t) => rope.apply(t.x(), { heads: H, positions: new Float32Array(3) as never })],
  ['positions a Uint32Array', TypeError, 'Uint32Array', (t) => rope.apply(t.x(), { heads: H, positions: new Uint32Array(3) as never })],
  ...[-1, 1.5, NaN, Infinity, 2 ** 31, 2 ** 53, -0.5].map(
    (v): Case => [`positions offset ${v}`, RangeError, 'positions', (t) => rope.apply(t.x(), { heads: H, positions: v })],
  ),
  ['positions offset + tokens past 2^31', RangeError, 'positions 2147483646 + tokens 3', (t) =>
    rope.apply(t.x(), { heads: H, positions: 2 ** 31 - 2 })],
  ['positions Int32Array too short', RangeError, 'positions.length 2', (t) => rope.apply(t.x(), { heads: H, positions: Int32Array.of(1, 2) })],
  ['positions Int32Array too long', RangeError, 'positions.length 4', (t) => rope.apply(t.x(), { heads: H, positions: Int32Array.of(1, 2, 3, 4) })],
  ['positions Int32Array negative', RangeError, 'positions[2] = -1', (t) =>
    rope.apply(t.x(), { heads: H, positions: Int32Array.from(badTail(-1)) })],
  ['positions Int32Array of 2^31 (wraps negative)', RangeError, 'positions[2]', (t) =>
    rope.apply(t.x(), { heads: H, positions: Int32Array.from(badTail(2 ** 31)) })],
  ['positions empty array', RangeError, 'positions.length 0', (t) => rope.apply(t.x(), { heads: H, positions: [] })],
  ['positions detached', TypeError, "positions' buffer is detached", (t) => {
    const p = Int32Array.of(1, 2, 3);
    detach(p.buffer);
    rope.apply(t.x(), { heads: H, positions: p });
  }],
  ...[-1, 1.5, NaN, Infinity, 2 ** 31, 2 ** 53].map(
    (v): Case => [`positions[] entry ${v}`, RangeError, `positions[2] = ${v}`, (t) => rope.apply(t.x(), { heads: H, positions: badTail(v) })],
  ),
  ['positions[] entry a string', TypeError, 'positions[2]', (t) => rope.apply(t.x(), { heads: H, positions: [5, 6, '7'] as never })],
  ['positions sharing x memory', RangeError, 'positions shares memory with x', (t) => {
    const buf = new ArrayBuffer(4 * 60);
    const x = fill(new Float32Array(buf, 0, 48));
    const p = new Int32Array(buf, 4 * 46, 3); // overlaps x's last two elements
    p.set([1, 2, 3]);
    rope.apply(t.track(x), { heads: H, positions: p });
  }],
  ['M-RoPE positions of one row', RangeError, '3 sections * tokens = 9', (t) =>
    mrope.apply(t.x(), { heads: H, positions: [1, 2, 3] })],
  // inverse, threads, seqLen
  ['inverse a string', TypeError, 'inverse', (t) => rope.apply(t.x(), { heads: H, positions: P, inverse: 'yes' as never })],
  ['threads a string', TypeError, 'threads', (t) => rope.apply(t.x(), { heads: H, positions: P, threads: 'many' as never })],
  ...[0, -1, 1.5, NaN, 2 ** 31].map(
    (v): Case => [`threads ${v}`, RangeError, 'threads', (t) => rope.apply(t.x(), { heads: H, positions: P, threads: v })],
  ),
  ...[0, -1, 1.5, NaN].map(
    (v): Case => [`seqLen ${v}`, RangeError, 'seqLen', (t) => rope.apply(t.x(), { heads: H, positions: P, seqLen: v })],
  ),
];

const q = (t: Tracker) => t.f32(T * QH * D);
const k = (t: Tracker) => t.f32(T * KH * D);
const qk = { qHeads: QH, kHeads: KH, positions: P };

const qkCases: Case[] = [
  ['q a number[]', TypeError, 'q must be', (t) => rope.applyQK([1] as unknown as Float32Array, k(t), qk)],
  ['k a Float64Array', TypeError, 'k must be', (t) => rope.applyQK(q(t), new Float64Array(48) as never, qk)],
  ['k a Uint16Array next to an f32 q', TypeError, 'k', (t) => rope.applyQK(q(t), t.u16(48) as never, qk)],
  ['q and k the same array', RangeError, 'q and k are the same array', (t) => {
    const x = t.f32(T * 4 * D);
    rope.applyQK(x, x, { qHeads: 4, kHeads: 4, positions: P });
  }],
  ['qHeads missing', TypeError, 'qHeads', (t) => rope.applyQK(q(t), k(t), { kHeads: KH, positions: P } as never)],
  ['kHeads 0', RangeError, 'kHeads', (t) => rope.applyQK(q(t), k(t), { ...qk, kHeads: 0 })],
  ['kHeads 1.5', RangeError, 'kHeads', (t) => rope.applyQK(q(t), k(t), { ...qk, kHeads: 1.5 })],
  ['q.length off by one', RangeError, 'q.length 95', (t) => rope.applyQK(t.f32(95), k(t), qk)],
  ['k holds another token count', RangeError, 'k holds 4 tokens', (t) => rope.applyQK(q(t), t.f32(4 * KH * D), qk)],
  ['k detached', TypeError, "k's buffer is detached", (t) => {
    const kk = k(t);
    detach(kk.buffer as ArrayBuffer);
    rope.applyQK(q(t), kk, qk);
  }],
  ['q and k views overlapping', RangeError, 'q and k overlap', (t) => {
    const buf = t.track(fill(new Float32Array(200)));
    rope.applyQK(buf.subarray(0, 96), buf.subarray(90, 138), qk);
  }],
  ['fused QKV with k starting inside q', RangeError, 'q and k overlap', (t) => {
    const S = (QH + 2 * KH) * D;
    const qkv = t.track(fill(new Float32Array(T * S)));
    rope.applyQK(qkv.subarray(0), qkv.subarray(3 * D), { ...qk, tokens: T, tokenStride: S });
  }],
  ['fused QKV with k one token late onto the next q', RangeError, 'q and k overlap', (t) => {
    // k shifted by a whole token stride minus one head: its rows land on q's of the next token.
    const S = (QH + KH) * D;
    const buf = t.track(fill(new Float32Array(5 * S)));
    rope.applyQK(buf.subarray(0), buf.subarray(S - D), { ...qk, tokens: T, tokenStride: S });
  }],
  ['different strides, one row in common', RangeError, 'q and k overlap', (t) => {
    const buf = t.track(fill(new Float32Array(200)));
    // q rows at 0, 32, 64; k rows at 8, 32, 56 (kTokenStride 24): the second rows meet.
    rope.applyQK(buf.subarray(0), buf.subarray(8), { qHeads: 1, kHeads: 1, positions: P, tokens: T, qTokenStride: 32, kTokenStride: 24 });
  }],
  ['qTokenStride too small', RangeError, 'qTokenStride 31', (t) =>
    rope.applyQK(t.f32(200), t.f32(100), { ...qk, tokens: T, qTokenStride: 31 })],
  ['kTokenStride past the end', RangeError, 'k.length 48 is too short', (t) =>
    rope.applyQK(q(t), k(t), { ...qk, tokens: T, kTokenStride: 17 })],
  ['tokenStride with bhsd', TypeError, 'tokenStride', (t) => rope.applyQK(q(t), k(t), { ...qk, layout: 'bhsd', tokens: T, tokenStride: 64 })],
  ['positions of the wrong length', RangeError, 'positions.length 2', (t) => rope.applyQK(q(t), k(t), { ...qk, positions: [1, 2] })],
  ['positions[] with NaN last', RangeError, 'positions[2] = NaN', (t) => rope.applyQK(q(t), k(t), { ...qk, positions: badTail(NaN) })],
];

const ctorCases: [string, typeof TypeError | typeof RangeError, string, unknown][] = [
  ['options missing', TypeError, 'options', undefined],
  ['options null', TypeError, 'options', null],
  ['headDim missing', TypeError, 'headDim', {}],
  ['headDim a string', TypeError, 'headDim', { headDim: '8' }],
  ...[0, -2, 7, 8.5, NaN, Infinity, 2 ** 31, 2 ** 53].map((v) => [`headDim ${v}`, RangeError, 'headDim', { headDim: v }] as [string, typeof RangeError, string, unknown]),
  ...[0, 3, 10, 2.5, NaN, -2].map((v) => [`rotaryDim ${v}`, RangeError, 'rotaryDim', { headDim: 8, rotaryDim: v }] as [string, typeof RangeError, string, unknown]),
  ...[0, -1, NaN, Infinity, -Infinity].map((v) => [`base ${v}`, RangeError, 'base', { headDim: 8, base: v }] as [string, typeof RangeError, string, unknown]),
  ['base a string', TypeError, 'base', { headDim: 8, base: '10000' }],
  ['style unknown', TypeError, 'style', { headDim: 8, style: 'neox' }],
  ['scaling type unknown', TypeError, 'scaling.type', { headDim: 8, scaling: { type: 'ntk' } }],
  ['maxPositions 0', RangeError, 'maxPositions', { headDim: 8, maxPositions: 0 }],
  ['mropeSection not summing to rotaryDim/2', RangeError, 'mropeSection', { headDim: 8, mropeSection: [1, 1, 1] }],
];

function refused(call: (t: Tracker) => void, kind: typeof TypeError | typeof RangeError, names: string): void {
  const t = new Tracker();
  let err: unknown;
  try {
    call(t);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(kind);
  expect((err as Error).message).toContain(names);
  t.unchanged();
}

describe('apply refuses bad input, arrays untouched', () => {
  it.each(applyCases)('%s', (_name, kind, names, call) => refused(call, kind, names));
});

describe('applyQK refuses bad input, arrays untouched', () => {
  it.each(qkCases)('%s', (_name, kind, names, call) => refused(call, kind, names));
});

describe('the constructor refuses bad options', () => {
  it.each(ctorCases)('%s', (_name, kind, names, options) => refused(() => new Rope(options as never), kind, names));
});

describe('async calls reject instead of throwing', () => {
  it('applyAsync with a bad position rejects with the same RangeError, x untouched', async () => {
    const t = new Tracker();
    const x = t.x();
    const p = rope.applyAsync(x, { heads: H, positions: badTail(-1) });
    await expect(p).rejects.toThrow(RangeError);
    await expect(p).rejects.toThrow('positions[2] = -1');
    t.unchanged();
  });
  it('applyQKAsync with overlapping views rejects', async () => {
    const t = new Tracker();
    const buf = t.track(fill(new Float32Array(200)));
    await expect(rope.applyQKAsync(buf.subarray(0, 96), buf.subarray(90, 138), qk)).rejects.toThrow('q and k overlap');
    t.unchanged();
  });
});

// ---- accepted: unusual but valid inputs, checked against the same rotation on plain arrays ----

const bitsOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();

describe('accepted inputs', () => {
  it('fused QKV views (shd and bshd): q and k rotated as if separate, v bit-identical', () => {
    for (const batch of [1, 2]) {
      const S = (QH + 2 * KH) * D;
      const qkv = fill(new Float32Array(batch * T * S));
      const qRef = new Float32Array(batch * T * QH * D);
      const kRef = new Float32Array(batch * T * KH * D);
      const vBefore: number[] = [];
      for (let r = 0; r < batch * T; r++) {
        qRef.set(qkv.subarray(r * S, r * S + QH * D), r * QH * D);
        kRef.set(qkv.subarray(r * S + QH * D, r * S + (QH + KH) * D), r * KH * D);
        vBefore.push(...qkv.subarray(r * S + (QH + KH) * D, (r + 1) * S));
      }
      const layout = batch === 1 ? 'shd' : 'bshd';
      const positions = Int32Array.from({ length: batch * T }, (_, i) => 3 * i + 1);
      rope.applyQK(qkv.subarray(0), qkv.subarray(QH * D), { qHeads: QH, kHeads: KH, positions, layout, batch, tokens: T, tokenStride: S });
      rope.applyQK(qRef, kRef, { qHeads: QH, kHeads: KH, positions, layout, batch });
      for (let r = 0; r < batch * T; r++) {
        expect(qkv.subarray(r * S, r * S + QH * D)).toEqual(qRef.subarray(r * QH * D, (r + 1) * QH * D));
        expect(qkv.subarray(r * S + QH * D, r * S + (QH + KH) * D)).toEqual(kRef.subarray(r * KH * D, (r + 1) * KH * D));
        expect([...qkv.subarray(r * S + (QH + KH) * D, (r + 1) * S)]).toEqual(vBefore.slice(r * KH * D, (r + 1) * KH * D));
      }
    }
  });

  it('q and k in one buffer with different strides whose rows interleave without meeting', () => {
    const buf = fill(new Float32Array(200));
    const ref = buf.slice();
    // q rows at 0, 32, 64 (qTokenStride 32); k rows at 8, 24, 40 (kTokenStride 16).
    rope.applyQK(buf.subarray(0), buf.subarray(8), { qHeads: 1, kHeads: 1, positions: [4, 9, 2], tokens: T, qTokenStride: 32, kTokenStride: 16 });
    const qSep = new Float32Array(T * D);
    const kSep = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      qSep.set(ref.subarray(32 * t, 32 * t + D), t * D);
      kSep.set(ref.subarray(8 + 16 * t, 8 + 16 * t + D), t * D);
    }
    rope.applyQK(qSep, kSep, { qHeads: 1, kHeads: 1, positions: [4, 9, 2] });
    for (let t = 0; t < T; t++) {
      expect(buf.subarray(32 * t, 32 * t + D)).toEqual(qSep.subarray(t * D, (t + 1) * D));
      expect(buf.subarray(8 + 16 * t, 8 + 16 * t + D)).toEqual(kSep.subarray(t * D, (t + 1) * D));
    }
  });

  it('partial rotary: k may sit in q pass-through dims, which rotation never touches', () => {
    const partial = new Rope({ headDim: D, rotaryDim: 4 });
    const buf = fill(new Float32Array(64));
    const before = buf.slice();
    // q rows [16t, 16t+8) rotate [16t, 16t+4); k rows start at 16t+4 and rotate [16t+4, 16t+8).
    partial.applyQK(buf.subarray(0), buf.subarray(4), { qHeads: 1, kHeads: 1, positions: 1, tokens: T, tokenStride: 16 });
    const want = new Map<number, number>();
    for (let t = 0; t < T; t++) {
      for (const at of [16 * t, 16 * t + 4]) {
        for (const [i, v] of rotatedRowF32(before, at, 2, false, partial.invFreq, () => 1 + t)) want.set(i, v);
      }
    }
    expect(want.size).toBe(T * 8);
    expect(rotationMisses(buf, before, want)).toEqual([]);
  });

  it('SharedArrayBuffer-backed arrays rotate exactly like ArrayBuffer-backed ones', () => {
    const plain = fill(new Float32Array(T * H * D));
    const shared = new Float32Array(new SharedArrayBuffer(plain.byteLength));
    shared.set(plain);
    rope.apply(plain, { heads: H, positions: [7, 0, 3] });
    rope.apply(shared, { heads: H, positions: [7, 0, 3] });
    expect(bitsOf(shared)).toEqual(bitsOf(plain));
  });

  it('any byteOffset, f32 and bf16', () => {
    for (const off of [1, 3, 5]) {
      const ref32 = fill(new Float32Array(T * H * D));
      const at32 = new Float32Array(new ArrayBuffer(4 * (off + ref32.length + 2)), 4 * off, ref32.length);
      at32.set(ref32);
      rope.apply(ref32, { heads: H, positions: 11 });
      rope.apply(at32, { heads: H, positions: 11 });
      expect(bitsOf(at32)).toEqual(bitsOf(ref32));
      const ref16 = fill(new Uint16Array(T * H * D));
      const at16 = new Uint16Array(new SharedArrayBuffer(2 * (off + ref16.length + 1)), 2 * off, ref16.length);
      at16.set(ref16);
      rope.apply(ref16, { heads: H, positions: 11, dtype: 'bf16' });
      rope.apply(at16, { heads: H, positions: 11, dtype: 'bf16' });
      expect(bitsOf(at16)).toEqual(bitsOf(ref16));
    }
  });

  it('positions: number[] == Int32Array, the Int32Array is left as given; batch*tokens per-row positions', () => {
    const a = fill(new Float32Array(T * H * D));
    const b = a.slice();
    const p = Int32Array.of(2 ** 31 - 1, 0, 12345);
    rope.apply(a, { heads: H, positions: [2 ** 31 - 1, 0, 12345] });
    rope.apply(b, { heads: H, positions: p });
    expect(bitsOf(a)).toEqual(bitsOf(b));
    expect([...p]).toEqual([2 ** 31 - 1, 0, 12345]);
    // bshd with one position per (batch row, token) = two batch rows rotated independently
    const two = fill(new Float32Array(2 * T * H * D));
    const first = two.slice(0, T * H * D);
    const second = two.slice(T * H * D);
    rope.apply(two, { heads: H, layout: 'bshd', batch: 2, positions: [1, 2, 3, 40, 50, 60] });
    rope.apply(first, { heads: H, positions: [1, 2, 3] });
    rope.apply(second, { heads: H, positions: [40, 50, 60] });
    expect(two).toEqual(new Float32Array([...first, ...second]));
  });

  it('largest offset: positions 2^31 - 3 with 3 tokens, rotated by the exact angles', () => {
    const x = fill(new Float32Array(T * H * D));
    const before = x.slice();
    rope.apply(x, { heads: H, positions: 2 ** 31 - 3 });
    const want = new Map<number, number>();
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        for (const [i, v] of rotatedRowF32(before, (t * H + h) * D, D / 2, false, rope.invFreq, () => 2 ** 31 - 3 + t)) want.set(i, v);
      }
    }
    expect(rotationMisses(x, before, want)).toEqual([]);
  });

  it("M-RoPE rows, threads 'auto' and 2, seqLen: accepted", () => {
    const x = fill(new Float32Array(T * H * D));
    const x0 = x.slice();
    mrope.apply(x, { heads: H, positions: [1, 2, 3, 1, 1, 1, 2, 2, 2] });
    // sections [2, 1, 1] in blocks: pairs 0-1 take row 0 (temporal), pair 2 row 1, pair 3 row 2
    const rows = [[1, 2, 3], [1, 1, 1], [2, 2, 2]];
    const section = [0, 0, 1, 2];
    const want = new Map<number, number>();
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        for (const [i, v] of rotatedRowF32(x0, (t * H + h) * D, D / 2, false, mrope.invFreq, (j) => rows[section[j]][t])) want.set(i, v);
      }
    }
    expect(rotationMisses(x, x0, want)).toEqual([]);
    const a = fill(new Float32Array(T * H * D));
    const b = a.slice();
    rope.apply(a, { heads: H, positions: 9, threads: 'auto', seqLen: 100 });
    rope.apply(b, { heads: H, positions: 9, threads: 2 });
    expect(bitsOf(a)).toEqual(bitsOf(b));
  });
});
