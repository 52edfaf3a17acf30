// Every length and stride check of apply and applyQK at its exact boundary, on every engine: the
// shortest array a call allows is accepted and rotated correctly (against an independent reference:
// the exact angle from test/helpers/exact-angle.ts, the rotation written out here per layout), and
// one element less is refused with the message lib/validate.ts gives, every byte of the buffer as
// it was. Also the strides at rows' length (accepted) and one below (refused), the tokens option
// at the count the array holds and one either side, and q/k holding one token more or less.
// Arrays are views into a buffer with guard elements on both sides: an engine that reads or writes
// one element past the view is seen in the guards or in the values.
import { describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../lib/abi.js';
import { createRope, nativeAddon, wasmArray } from '../../lib/internal.js';
import type { Rope } from '../../lib/rope.js';
import type { RopeOptions } from '../../lib/types.js';
import { bf16Value, rng, roundBf16 } from '../helpers/engine-ref.js';
import { loadAddon } from '../helpers/addon.js';
import { exactCosSin, f32Candidates, rotatedRowF32, rotationMisses, ulp32 } from '../helpers/exact-angle.js';

type Engine = 'js' | 'wasm' | 'native';
type Layout = 'shd' | 'bshd' | 'bhsd';
type DType = 'f32' | 'bf16';
const ENGINES: Engine[] = nativeAddon ? ['js', 'wasm', 'native'] : ['js', 'wasm'];
const GUARD = 5;

// Two geometries: full rotary 'half' pairs, and partial rotary 'interleaved' pairs (pass-through
// dims 8..11 that must stay as they were).
const GEOMETRIES: { options: RopeOptions; D: number; half: number; interleaved: boolean }[] = [
  { options: { headDim: 8 }, D: 8, half: 4, interleaved: false },
  { options: { headDim: 12, rotaryDim: 8, style: 'interleaved', base: 500000 }, D: 12, half: 4, interleaved: true },
];

/** One tensor's shape in a call. stride undefined: dense (the length fixes the token count). */
interface Shape {
  heads: number;
  stride?: number;
}
interface Call {
  layout: Layout;
  batch: number;
  tokens: number;
  geometry: number;
  perToken: boolean; // positions an Int32Array (one per batch row and token), else a start offset
}

const minLength = (c: Call, s: Shape, D: number): number =>
  s.stride === undefined ? c.batch * c.tokens * s.heads * D : (c.batch * c.tokens - 1) * s.stride + s.heads * D;

/** Where head h of token t of batch row b starts, from the layouts' definitions. */
function rowStart(c: Call, s: Shape, D: number, b: number, t: number, h: number): number {
  if (s.stride !== undefined) return (b * c.tokens + t) * s.stride + h * D;
  if (c.layout === 'bhsd') return ((b * s.heads + h) * c.tokens + t) * D;
  return ((b * c.tokens + t) * s.heads + h) * D;
}

const START = 1000;
function positionsOf(c: Call): number | Int32Array {
  return c.perToken ? Int32Array.from({ length: c.batch * c.tokens }, (_, i) => 70000 + 7919 * i) : START;
}
const positionAt = (c: Call, b: number, t: number): number => (c.perToken ? 70000 + 7919 * (b * c.tokens + t) : START + t);

// The reference's float32 cos/sin; the positions here are chosen so that none lies within reach of
// a float32 rounding tie (asserted), so the rows are known exactly.
function f32CosSin(p: number, f: number): [number, number] {
  const [c, s] = exactCosSin(p, f);
  const [cc, sc] = [f32Candidates(c), f32Candidates(s)];
  if (cc.length !== 1 || sc.length !== 1) throw new Error(`position ${p}, invFreq ${f}: cos/sin near a float32 tie; pick other positions`);
  return [cc[0], sc[0]];
}

interface Tensor {
  dtype: DType;
  buf: Float32Array | Uint16Array;
  view: Float32Array | Uint16Array;
  before: Uint8Array;
}

/** A view of `length` elements at GUARD, guards of signalling-NaN bits on both sides. */
function tensor(dtype: DType, length: number, seed: number): Tensor {
  const r = rng(seed);
  if (dtype === 'f32') {
    const buf = new Float32Array(length + 2 * GUARD);
    new Uint32Array(buf.buffer).fill(0x7fa5a5a5);
    const view = buf.subarray(GUARD, GUARD + length);
    for (let i = 0; i < length; i++) view[i] = r() * 2 - 1;
    return { dtype, buf, view, before: new Uint8Array(buf.buffer.slice(0)) };
  }
  const buf = new Uint16Array(length + 2 * GUARD).fill(0x7fa5);
  const view = buf.subarray(GUARD, GUARD + length);
  for (let i = 0; i < length; i++) view[i] = (r() < 0.5 ? 0x8000 : 0) | (0x3e00 + Math.floor(r() * 0x200));
  return { dtype, buf, view, before: new Uint8Array(buf.buffer.slice(0)) };
}

const bytesOf = (t: Tensor): Uint8Array => new Uint8Array(t.buf.buffer, t.buf.byteOffset, t.buf.byteLength);
const unchanged = (t: Tensor): boolean => Buffer.from(bytesOf(t)).equals(Buffer.from(t.before));

/** Every element off the reference: rotated pairs against the formula, all else bit for bit. */
function misses(t: Tensor, c: Call, s: Shape, rope: Rope): string[] {
  const g = GEOMETRIES[c.geometry];
  const invFreq = rope.invFreq;
  const out: string[] = [];
  const rotated = new Uint8Array(t.buf.length);
  const old32 = t.dtype === 'f32' ? new Float32Array(t.before.buffer) : null;
  const old16 = t.dtype === 'bf16' ? new Uint16Array(t.before.buffer) : null;
  for (let b = 0; b < c.batch; b++) {
    for (let tok = 0; tok < c.tokens; tok++) {
      const p = positionAt(c, b, tok);
      for (let h = 0; h < s.heads; h++) {
        const at = GUARD + rowStart(c, s, g.D, b, tok, h);
        const want: [number, number][] = []; // [index, value]
        for (let j = 0; j < g.half; j++) {
          const [C, S] = f32CosSin(p, invFreq[j]);
          const ix = at + (g.interleaved ? 2 * j : j);
          const iy = at + (g.interleaved ? 2 * j + 1 : g.half + j);
          rotated[ix] = rotated[iy] = 1;
          if (old32) {
            const [x, y] = [old32[ix], old32[iy]];
            want.push([ix, Math.fround(x * C - Math.fround(y * S))], [iy, Math.fround(y * C + Math.fround(x * S))]);
          } else {
            const [x, y] = [bf16Value(old16![ix]), bf16Value(old16![iy])];
            want.push([ix, roundBf16(x * C - y * S)], [iy, roundBf16(y * C + x * S)]);
          }
        }
        // f32: within 2 ulp of the row's largest |value| (the engines' documented agreement: the
        // FMA and the wasm f32 kernels round differently from float64); bf16: bit for bit
        const rowMax = Math.max(...want.map((w) => Math.abs(w[1])));
        for (const [i, w] of want) {
          const got = old32 ? (t.buf as Float32Array)[i] : bf16Value((t.buf as Uint16Array)[i]);
          const ok = old32 ? Math.abs(got - w) <= 2 * ulp32(rowMax) : got === w;
          if (!ok) out.push(`element ${i - GUARD} (b ${b}, token ${tok}, head ${h}): ${got}, want ${w}`);
        }
      }
    }
  }
  const now = bytesOf(t);
  const size = t.dtype === 'f32' ? 4 : 2;
  for (let i = 0; i < t.buf.length; i++) {
    if (rotated[i]) continue;
    for (let k = 0; k < size; k++) {
      if (now[i * size + k] !== t.before[i * size + k]) {
        out.push(`element ${i - GUARD} (${i < GUARD || i >= t.buf.length - GUARD ? 'guard' : 'not rotated'}) changed`);
        break;
      }
    }
  }
  return out;
}

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return 'returned';
}

/** The message validate.ts gives for a tensor one element shorter than minLength. */
function shortMessage(name: string, headsName: string, strideName: string, c: Call, s: Shape, D: number): string {
  const len = minLength(c, s, D) - 1;
  const row = s.heads * D;
  if (s.stride === undefined) {
    const per = c.batch === 1 ? `${headsName}*headDim` : `batch*${headsName}*headDim`;
    return `${name}.length ${len} is not a multiple of ${per} = ${c.batch * row}`;
  }
  const rows = c.batch === 1 ? `tokens ${c.tokens}` : `batch*tokens ${c.batch * c.tokens}`;
  return `${name}.length ${len} is too short: ${rows} at ${strideName} ${s.stride} with ${headsName}*headDim = ${row} end at element ${len + 1}`;
}

const LAYOUTS: [Layout, number][] = [['shd', 1], ['bshd', 1], ['bshd', 2], ['bhsd', 1], ['bhsd', 2]];

// ---- apply ------------------------------------------------------------------------------------
interface ApplyCase {
  name: string;
  call: Call;
  x: Shape;
}
const applyCases: ApplyCase[] = [];
for (const [layout, batch] of LAYOUTS) {
  for (const tokens of [1, 3]) {
    const strides = layout === 'bhsd' ? [undefined] : [undefined, 'row', 'row+5'];
    for (const st of strides) {
      const geometry = applyCases.length % 2;
      const D = GEOMETRIES[geometry].D;
      const heads = 2;
      const stride = st === undefined ? undefined : st === 'row' ? heads * D : heads * D + 5;
      applyCases.push({
        name: `${layout} batch ${batch}, tokens ${tokens}, ${stride === undefined ? 'dense' : `tokenStride ${st}`}, headDim ${D}`,
        call: { layout, batch, tokens, geometry, perToken: applyCases.length % 3 !== 0 },
        x: { heads, stride },
      });
    }
  }
}

describe.each(ENGINES)('%s engine: apply at the length and stride boundaries', (engine) => {
  const ropes = GEOMETRIES.map((g) => createRope(g.options, engine));
  it.each(applyCases.map((c) => [c.name, c] as const))('%s', (_name, { call: c, x: s }) => {
    const rope = ropes[c.geometry];
    const D = GEOMETRIES[c.geometry].D;
    const L = minLength(c, s, D);
    const opts = (extra: object = {}) => ({
      heads: s.heads,
      positions: positionsOf(c),
      ...(c.layout === 'shd' ? {} : { layout: c.layout, batch: c.batch }),
      ...(s.stride === undefined ? {} : { tokens: c.tokens, tokenStride: s.stride }),
      ...extra,
    });
    for (const dtype of ['f32', 'bf16'] as const) {
      const d = dtype === 'bf16' ? { dtype } : {};
      // the shortest array: accepted, rotated as the reference says, nothing else written
      const ok = tensor(dtype, L, L);
      rope.apply(ok.view as Float32Array, opts(d) as never);
      expect(misses(ok, c, s, rope).slice(0, 4), `${dtype}, length ${L}`).toEqual([]);
      // one element less: refused, naming it, nothing written
      const short = tensor(dtype, L - 1, L);
      const err = thrown(() => rope.apply(short.view as Float32Array, opts(d) as never));
      expect(err, `${dtype}, length ${L - 1}`).toBeInstanceOf(RangeError);
      expect((err as Error).message).toBe(shortMessage('x', 'heads', 'tokenStride', c, s, D));
      expect(unchanged(short)).toBe(true);
      // one element more: with a stride the rows fit and the last element is left alone; without
      // one the length is no whole number of tokens
      const long = tensor(dtype, L + 1, L);
      const errLong = thrown(() => rope.apply(long.view as Float32Array, opts(d) as never));
      if (s.stride !== undefined) {
        expect(errLong).toBe('returned');
        expect(misses(long, c, s, rope).slice(0, 4)).toEqual([]);
      } else {
        expect((errLong as Error).message).toBe(`x.length ${L + 1} is not a multiple of ${c.batch === 1 ? 'heads*headDim' : 'batch*heads*headDim'} = ${c.batch * s.heads * D}`);
        expect(unchanged(long)).toBe(true);
      }
    }
    const row = s.heads * D;
    if (s.stride === row) {
      // tokenStride at the row's length is accepted (above); one less would overlap rows
      const t = tensor('f32', L + D, 3);
      const err = thrown(() => rope.apply(t.view as Float32Array, opts({ tokenStride: row - 1 }) as never));
      expect((err as Error).message).toBe(`tokenStride ${row - 1} is less than heads*headDim = ${row}: consecutive tokens' rows would overlap`);
      expect(unchanged(t)).toBe(true);
    }
    if (s.stride === undefined) {
      // tokens: the count the array holds is accepted; one more or one less is refused
      const per = c.batch * row;
      const t = tensor('f32', L, 5);
      rope.apply(t.view as Float32Array, opts({ tokens: c.tokens }) as never);
      expect(misses(t, c, s, rope).slice(0, 4)).toEqual([]);
      for (const n of [c.tokens + 1, c.tokens - 1].filter((v) => v > 0)) {
        const u = tensor('f32', L, 5);
        // (an Int32Array of positions is sized for c.tokens: a start offset keeps the error on tokens)
        const err = thrown(() => rope.apply(u.view as Float32Array, opts({ tokens: n, positions: START }) as never));
        const perName = c.batch === 1 ? 'heads*headDim' : 'batch*heads*headDim';
        expect((err as Error).message).toBe(`tokens ${n} does not match x.length ${L} = ${c.tokens} tokens of ${perName} = ${per}`);
        expect(unchanged(u)).toBe(true);
      }
    }
  });
});

// Arrays in the wasm module's memory (wasmArray) are rotated in place there, next to the module's
// own data and other arrays: the same boundaries, guards inside the same wasmArray.
describe('wasm engine, wasmArray (in place in the module memory): apply at the length boundaries', () => {
  const ropes = GEOMETRIES.map((g) => createRope(g.options, 'wasm'));
  it.each(applyCases.filter((c) => c.call.layout !== 'bhsd').map((c) => [c.name, c] as const))('%s', (_name, { call: c, x: s }) => {
    const rope = ropes[c.geometry];
    const D = GEOMETRIES[c.geometry].D;
    const L = minLength(c, s, D);
    for (const dtype of ['f32', 'bf16'] as const) {
      for (const len of [L, L - 1]) {
        const a = wasmArray(len + 2 * GUARD, dtype);
        try {
          const plain = tensor(dtype, len, L);
          a.array.set(plain.buf);
          const before = new Uint8Array(a.array.buffer, a.array.byteOffset, a.array.byteLength).slice();
          const opts = {
            heads: s.heads,
            positions: positionsOf(c),
            ...(dtype === 'bf16' ? { dtype } : {}),
            ...(c.layout === 'shd' ? {} : { layout: c.layout, batch: c.batch }),
            ...(s.stride === undefined ? {} : { tokens: c.tokens, tokenStride: s.stride }),
          };
          const err = thrown(() => rope.apply(a.array.subarray(GUARD, GUARD + len) as Float32Array, opts as never));
          // (the module's memory may have grown during the call: views are taken again after it)
          const now: Tensor = { dtype, buf: a.array, view: a.array.subarray(GUARD, GUARD + len), before };
          if (len === L) {
            expect(err, `${dtype}, length ${len}`).toBe('returned');
            expect(misses(now, c, s, rope).slice(0, 4), `${dtype}, length ${len}`).toEqual([]);
          } else {
            expect((err as Error).message, dtype).toBe(shortMessage('x', 'heads', 'tokenStride', c, s, D));
            expect(unchanged(now), dtype).toBe(true);
          }
        } finally {
          a.free();
        }
      }
    }
  });
});

// ---- applyQK ----------------------------------------------------------------------------------
type StrideForm = 'dense' | 'tokenStride' | 'qTokenStride' | 'kTokenStride' | 'both';
interface QKCase {
  name: string;
  call: Call;
  form: StrideForm;
  q: Shape;
  k: Shape;
}
const QH = 3;
const KH = 1;
const qkCases: QKCase[] = [];
for (const [layout, batch] of [['shd', 1], ['bshd', 2], ['bhsd', 2]] as [Layout, number][]) {
  for (const tokens of [1, 3]) {
    const forms: StrideForm[] = layout === 'bhsd' ? ['dense'] : ['dense', 'tokenStride', 'qTokenStride', 'kTokenStride', 'both'];
    for (const form of forms) {
      const geometry = qkCases.length % 2;
      const D = GEOMETRIES[geometry].D;
      const [qRow, kRow] = [QH * D, KH * D];
      // strides at the rows' length where they can be, to put that boundary under test too
      const q: Shape = { heads: QH, stride: form === 'tokenStride' ? qRow + 3 : form === 'qTokenStride' ? qRow : form === 'both' ? qRow + 1 : undefined };
      const k: Shape = { heads: KH, stride: form === 'tokenStride' ? qRow + 3 : form === 'kTokenStride' ? kRow : form === 'both' ? kRow : undefined };
      qkCases.push({
        name: `${layout} batch ${batch}, tokens ${tokens}, ${form}, headDim ${D}`,
        call: { layout, batch, tokens, geometry, perToken: qkCases.length % 3 !== 1 },
        form,
        q,
        k,
      });
    }
  }
}

describe.each(ENGINES)('%s engine: applyQK at the length and stride boundaries', (engine) => {
  const ropes = GEOMETRIES.map((g) => createRope(g.options, engine));
  it.each(qkCases.map((c) => [c.name, c] as const))('%s', (_name, { call: c, form, q: qs, k: ks }) => {
    const rope = ropes[c.geometry];
    const D = GEOMETRIES[c.geometry].D;
    const [Lq, Lk] = [minLength(c, qs, D), minLength(c, ks, D)];
    const strides =
      form === 'tokenStride' ? { tokenStride: qs.stride } : form === 'qTokenStride' ? { qTokenStride: qs.stride } : form === 'kTokenStride' ? { kTokenStride: ks.stride } : form === 'both' ? { qTokenStride: qs.stride, kTokenStride: ks.stride } : {};
    const opts = (extra: object = {}) => ({
      qHeads: QH,
      kHeads: KH,
      positions: positionsOf(c),
      ...(c.layout === 'shd' ? {} : { layout: c.layout, batch: c.batch }),
      ...(form === 'dense' ? {} : { tokens: c.tokens, ...strides }),
      ...extra,
    });
    const qName = form === 'tokenStride' ? 'tokenStride' : 'qTokenStride';
    const kName = form === 'tokenStride' ? 'tokenStride' : 'kTokenStride';
    for (const dtype of ['f32', 'bf16'] as const) {
      const d = dtype === 'bf16' ? { dtype } : {};
      const call = (q: Tensor, k: Tensor, extra: object = {}) => thrown(() => rope.applyQK(q.view as Float32Array, k.view as Float32Array, opts({ ...d, ...extra }) as never));
      // both at their shortest: accepted and rotated
      let q = tensor(dtype, Lq, 1);
      let k = tensor(dtype, Lk, 2);
      expect(call(q, k)).toBe('returned');
      expect(misses(q, c, qs, rope).slice(0, 4), `${dtype} q`).toEqual([]);
      expect(misses(k, c, ks, rope).slice(0, 4), `${dtype} k`).toEqual([]);
      // q one short, then k one short: refused, both untouched
      q = tensor(dtype, Lq - 1, 1);
      k = tensor(dtype, Lk, 2);
      expect((call(q, k) as Error).message, `${dtype} q short`).toBe(shortMessage('q', 'qHeads', qName, c, qs, D));
      expect(unchanged(q) && unchanged(k)).toBe(true);
      q = tensor(dtype, Lq, 1);
      k = tensor(dtype, Lk - 1, 2);
      expect((call(q, k) as Error).message, `${dtype} k short`).toBe(shortMessage('k', 'kHeads', kName, c, ks, D));
      expect(unchanged(q) && unchanged(k)).toBe(true);
    }
    // strides at the rows' length: one less is refused
    for (const [s, row, name, heads] of [[qs, QH * D, qName, 'qHeads'], [ks, KH * D, kName, 'kHeads']] as const) {
      if (s.stride !== row || form === 'tokenStride') continue;
      const q = tensor('f32', Lq, 1);
      const k = tensor('f32', Lk, 2);
      const err = thrown(() => rope.applyQK(q.view, k.view, opts({ [name]: row - 1 }) as never));
      expect((err as Error).message).toBe(`${name} ${row - 1} is less than ${heads}*headDim = ${row}: consecutive tokens' rows would overlap`);
      expect(unchanged(q) && unchanged(k)).toBe(true);
    }
    if (form === 'dense') {
      // k holding one token more, or one less, than q: refused
      const kPer = c.batch * KH * D;
      for (const kTokens of [c.tokens + 1, c.tokens - 1].filter((v) => v > 0)) {
        const q = tensor('f32', Lq, 1);
        const k = tensor('f32', kTokens * kPer, 2);
        const err = thrown(() => rope.applyQK(q.view, k.view, opts({ positions: START }) as never));
        const n = (v: number) => `${v} token${v === 1 ? '' : 's'}`;
        expect((err as Error).message).toBe(`k holds ${n(kTokens)} (k.length ${kTokens * kPer}) but q holds ${n(c.tokens)} (q.length ${Lq}); they must match`);
        expect(unchanged(q) && unchanged(k)).toBe(true);
      }
    }
  });
});

// A prepared decode step (rope.prepare): shd, dense; its fast path on the native engine checks the
// arrays in the binding, every refusal goes on to applyQK's checks and messages.
describe.each(ENGINES)('%s engine: prepared step applyQK at the length boundaries', (engine) => {
  const ropes = GEOMETRIES.map((g) => createRope(g.options, engine));
  it.each(qkCases.filter((c) => c.call.layout === 'shd' && c.form === 'dense').map((c) => [c.name, c] as const))('%s', (_name, { call: c, q: qs, k: ks }) => {
    const rope = ropes[c.geometry];
    const D = GEOMETRIES[c.geometry].D;
    const [Lq, Lk] = [minLength(c, qs, D), minLength(c, ks, D)];
    for (const dtype of ['f32', 'bf16'] as const) {
      const step = rope.prepare({ qHeads: QH, kHeads: KH, ...(dtype === 'bf16' ? { dtype } : {}) });
      const call = (q: Tensor, k: Tensor) => thrown(() => step.applyQK(q.view as Float32Array, k.view as Float32Array, positionsOf(c)));
      let q = tensor(dtype, Lq, 1);
      let k = tensor(dtype, Lk, 2);
      expect(call(q, k)).toBe('returned');
      expect(misses(q, c, qs, rope).slice(0, 4), `${dtype} q`).toEqual([]);
      expect(misses(k, c, ks, rope).slice(0, 4), `${dtype} k`).toEqual([]);
      q = tensor(dtype, Lq - 1, 1);
      k = tensor(dtype, Lk, 2);
      expect((call(q, k) as Error).message, `${dtype} q short`).toBe(shortMessage('q', 'qHeads', '', c, qs, D));
      expect(unchanged(q) && unchanged(k)).toBe(true);
      q = tensor(dtype, Lq, 1);
      k = tensor(dtype, Lk - 1, 2);
      expect((call(q, k) as Error).message, `${dtype} k short`).toBe(shortMessage('k', 'kHeads', '', c, ks, D));
      expect(unchanged(q) && unchanged(k)).toBe(true);
    }
  });
});

// ---- the addon's own checks ---------------------------------------------------------------------
// The binding re-checks every call it gets (it can be called directly): the end of each tensor's
// rows, offset + (batch-1)*batchStride + (tokens-1)*tokenStride + (heads-1)*headStride + headDim,
// against its real length, and the positions a call reads. The facade refuses first, so these are
// called on the addon itself (loaded directly: every stage runs them). Every term of the end is
// non-zero here, so a term left out or an off-by-one moves the boundary.
describe("the addon's own bounds (loaded directly), at the exact end", () => {
  const addon = loadAddon<NativeAddon>();
  const D = 8;
  const invFreq = Float64Array.from({ length: D / 2 }, (_, j) => 10000 ** (-(2 * j) / D));
  const rope = new addon.NativeRope(D, D, 0, null, 1);
  // [batch, tokens, heads, offset, batchStride, tokenStride, headStride]: rows disjoint, all terms > 0
  const geometries: [number, number, number, number, number, number, number][] = [
    [2, 3, 2, 3, 3 * (2 * D + 4) + 1, 2 * D + 4, D + 1],
    [3, 2, 3, 1, 2 * (3 * D + 2) + 5, 3 * D + 2, D],
    [2, 1, 1, 7, D + 2, D, D],
  ];
  const endOf = ([b, t, h, off, bs, ts, hs]: (typeof geometries)[number]) => off + (b - 1) * bs + (t - 1) * ts + (h - 1) * hs + D;
  const descOf = (g: (typeof geometries)[number], pbs: number) => {
    const [b, t, h, off, bs, ts, hs] = g;
    const d = new Float64Array(20);
    d.set([b, t, 0, 0, pbs, 0, 1, 1]);
    d.set([0, h, off, bs, ts, hs], 8);
    d.set([0, 1, 0, t * D, D, D], 14); // k: one dense head per token
    return d;
  };
  const positionsFor = (b: number, t: number, pbs: number) => Int32Array.from({ length: (b - 1) * pbs + t }, (_, i) => 4000 + 37 * i);

  it.each(geometries.map((g) => [g.join(', '), g] as const))('q [batch, tokens, heads, offset, batchStride, tokenStride, headStride] = [%s]', (_n, g) => {
    const [b, t, h, off, bs, ts, hs] = g;
    const end = endOf(g);
    const pbs = t + 2; // positions per batch row, two apart
    for (const len of [end, end + 1, end - 1]) {
      const q = tensor('f32', len, len);
      const k = tensor('f32', b * t * D, 9);
      const pos = positionsFor(b, t, pbs);
      const err = thrown(() => rope.apply(q.view, k.view, pos, invFreq, descOf(g, pbs)));
      if (len < end) {
        expect((err as Error).message).toBe(`q.length ${len} is too short: offset + (batch-1)*batchStride + (tokens-1)*tokenStride + (heads-1)*headStride + headDim = ${end}`);
        expect(unchanged(q) && unchanged(k)).toBe(true);
        continue;
      }
      expect(err, `length ${len}`).toBe('returned');
      // q's rows against the reference, everything else in q's buffer untouched
      const before = new Float32Array(q.before.buffer);
      const want = new Map<number, number>();
      for (let bb = 0; bb < b; bb++) {
        for (let tt = 0; tt < t; tt++) {
          for (let hh = 0; hh < h; hh++) {
            const at = GUARD + off + bb * bs + tt * ts + hh * hs;
            for (const [i, v] of rotatedRowF32(before, at, D / 2, false, invFreq, () => pos[bb * pbs + tt])) want.set(i, v);
          }
        }
      }
      expect(rotationMisses(q.buf as Float32Array, before, want).slice(0, 4), `length ${len}`).toEqual([]);
    }
    // k one short of its rows (its check is q's, on the other block)
    const q = tensor('f32', end, 1);
    const k = tensor('f32', b * t * D - 1, 9);
    const err = thrown(() => rope.apply(q.view, k.view, positionsFor(b, t, pbs), invFreq, descOf(g, pbs)));
    expect((err as Error).message).toBe(`k.length ${b * t * D - 1} is too short: offset + (batch-1)*batchStride + (tokens-1)*tokenStride + (heads-1)*headStride + headDim = ${b * t * D}`);
    expect(unchanged(q) && unchanged(k)).toBe(true);
  });

  it('positions: exactly (batch-1)*batchStride + tokens entries accepted, one less refused', () => {
    for (const [b, t, pbs] of [[1, 3, 0], [2, 3, 5], [3, 2, 2]]) {
      const g: (typeof geometries)[number] = [b, t, 1, 0, t * D, D, D];
      const need = (b - 1) * pbs + t;
      const ok = tensor('f32', b * t * D, 3);
      expect(thrown(() => rope.apply(ok.view, null, positionsFor(b, t, pbs), invFreq, descOf(g, pbs)))).toBe('returned');
      expect(unchanged(ok)).toBe(false);
      const x = tensor('f32', b * t * D, 3);
      const short = positionsFor(b, t, pbs).subarray(0, need - 1);
      const err = thrown(() => rope.apply(x.view, null, short, invFreq, descOf(g, pbs)));
      expect((err as Error).message).toBe(`positions.length ${need - 1} is too short for 1 row(s) x batch ${b} x tokens ${t} with rowStride 0, batchStride ${pbs}`);
      expect(unchanged(x)).toBe(true);
    }
  });
});

describe('the cases', () => {
  it('cover every layout, batch 1 and 2, every stride option, strides at and past the rows', () => {
    const seen = new Set([...applyCases.map((c) => `${c.call.layout}:${c.call.batch}:${c.x.stride === undefined}`), ...qkCases.map((c) => c.form)]);
    for (const k of ['shd:1:true', 'shd:1:false', 'bshd:2:true', 'bshd:2:false', 'bhsd:2:true', 'bhsd:1:true', 'tokenStride', 'qTokenStride', 'kTokenStride', 'both']) {
      expect(seen.has(k), k).toBe(true);
    }
  });
});
