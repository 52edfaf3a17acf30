// The attack classes on memory, one test each (sync and async, every engine where it applies): a
// buffer resized, transferred or detached while an async call is between two slices; positions
// and q/k sharing memory through a second SharedArrayBuffer object; options that break invFreq.
// native/binding/async.h says what an async call may run on and why; docs/guide/async.md. Workers, teardown and
// memory growth: test/safety/async-teardown.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setAsyncSliceTokens } from '../../lib/async.js';
import { nativeAddon } from '../../lib/backend.js';
import { ASYNC_INLINE_BYTES, createRope, Rope } from '../../lib/rope.js';
import { rng } from '../helpers/engine-ref.js';

type Engine = 'js' | 'native';
// The native engine wherever the addon loaded (everywhere but the ROPE_SIMD_BACKEND=js stage).
const engines: Engine[] = nativeAddon ? ['js', 'native'] : ['js'];
// Async calls run in slices on every engine (lib/async.ts): the wasm engine too.
const asyncEngines: (Engine | 'wasm')[] = [...engines, 'wasm'];

type Resizable = ArrayBuffer & { resize(n: number): void; resizable: boolean };
type Transferable = ArrayBuffer & { transfer(n?: number): ArrayBuffer; transferToFixedLength(n?: number): ArrayBuffer };
const hasResize = typeof (ArrayBuffer.prototype as Partial<Resizable>).resize === 'function';
const hasTransfer = typeof (ArrayBuffer.prototype as Partial<Transferable>).transfer === 'function';
const resizable = (n: number, max: number) =>
  new (ArrayBuffer as unknown as new (n: number, o: object) => Resizable)(n, { maxByteLength: max });

const D = 64;
const opts = { headDim: D, rotaryDim: 48 };
const fill = <T extends Float32Array | Uint16Array>(a: T, seed: number): T => {
  const r = rng(seed);
  for (let i = 0; i < a.length; i++) a[i] = a instanceof Float32Array ? r() * 2 - 1 : 0x3c00 + Math.floor(r() * 0x300);
  return a;
};
const bytesOf = (a: ArrayBufferView | ArrayBuffer) =>
  a instanceof ArrayBuffer ? Buffer.from(new Uint8Array(a).slice()) : Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice());

describe('the engines this run covers', () => {
  it('native is covered unless the run forces the JS or wasm backend', () => {
    const forced = process.env.ROPE_SIMD_BACKEND;
    expect(engines.includes('native')).toBe(forced !== 'js' && forced !== 'wasm');
  });
});

describe.each(asyncEngines)('%s engine: buffers changed while applyAsync is pending', (engine) => {
  const rope = createRope(opts, engine);
  // Above ASYNC_INLINE_BYTES (lib/rope.ts) for every dtype: these calls really run in slices.
  const T = 1024, H = 8;
  const SLICE = 128; // tokens per slice: the first slice runs before the call returns
  const rotatedFirst = `after tokens 0-${SLICE - 1} of ${T} were rotated; tokens ${SLICE}-${T - 1} are unchanged`;
  beforeEach(() => setAsyncSliceTokens(SLICE));
  afterEach(() => setAsyncSliceTokens(0));
  it('the calls below are past the inline threshold (bf16, the smallest, too)', () => {
    expect(T * H * 48 * 2).toBeGreaterThan(ASYNC_INLINE_BYTES);
  });

  // What the sync call makes of these bytes (the reference for every async outcome).
  const rotated = (x: Float32Array | Uint16Array, o: object) => {
    const y = x.slice();
    rope.apply(y as Float32Array, o as never);
    return bytesOf(y);
  };
  // got: the first `tokens` tokens as in want, the rest as in before (up to got's length).
  const split = (got: Buffer, want: Buffer, before: Buffer, tokens: number, tokenBytes: number) => {
    const cut = Math.min(tokens * tokenBytes, got.length);
    return got.subarray(0, cut).equals(want.subarray(0, cut)) && got.subarray(cut).equals(before.subarray(cut, got.length));
  };

  it('resize() shrink of x (and of k, bf16 data) mid-call: a RangeError naming the tokens rotated, the rest unchanged; positions shrunk: no effect (copied)', async () => {
    if (!hasResize) {
      // Node 18: no resizable buffers at all; the option is ignored and the buffer is fixed.
      const b = resizable(8, 16) as Partial<Resizable>;
      expect(b.resize).toBeUndefined();
      expect(b.resizable).toBeUndefined();
      return;
    }
    for (const dtype of ['f32', 'bf16'] as const) {
      const el = dtype === 'f32' ? 4 : 2;
      const buf = resizable(T * H * D * el, T * H * D * el);
      const x = fill(dtype === 'f32' ? new Float32Array(buf) : new Uint16Array(buf), 3);
      const o = { heads: H, positions: 5, dtype };
      const want = rotated(x, o);
      const before = bytesOf(x);
      const p = rope.applyAsync(x as Float32Array, o as never);
      buf.resize(buf.byteLength / 2);
      await expect(p).rejects.toThrow(RangeError);
      await expect(p).rejects.toThrow(`x's buffer shrank while applyAsync ran (x now has ${(T * H * D) / 2} elements, its rows need ${T * H * D}), ${rotatedFirst}`);
      expect(split(bytesOf(buf), want, before, SLICE, H * D * el)).toBe(true);
    }
    // k shrunk during applyQKAsync: q and k rotated up to the same token, the rest of q unchanged.
    const kb = resizable(T * 2 * D * 4, T * 2 * D * 4);
    const q = fill(new Float32Array(T * H * D), 4), k = fill(new Float32Array(kb), 5);
    const q0 = bytesOf(q), k0 = bytesOf(k);
    const qw = q.slice(), kw = k.slice();
    rope.applyQK(qw, kw, { qHeads: H, kHeads: 2, positions: 1 });
    const pq = rope.applyQKAsync(q, k, { qHeads: H, kHeads: 2, positions: 1 });
    kb.resize(16);
    await expect(pq).rejects.toThrow(`k's buffer shrank while applyQKAsync ran (k now has 4 elements, its rows need ${T * 2 * D}), ${rotatedFirst}`);
    expect(split(bytesOf(q), bytesOf(qw), q0, SLICE, H * D * 4)).toBe(true);
    expect(bytesOf(kb).equals(bytesOf(kw).subarray(0, 16))).toBe(true);
    expect(bytesOf(kb).equals(k0.subarray(0, 16))).toBe(false); // token 0 of k was rotated
    // positions shrunk: they were copied when the call was made; the call rotates with them.
    const pb = resizable(T * 4, T * 4);
    const pos = new Int32Array(pb).map((_, i) => 3 * i + 1);
    const x = fill(new Float32Array(T * H * D), 6);
    const want = rotated(x, { heads: H, positions: pos.slice() });
    const px = rope.applyAsync(x, { heads: H, positions: pos });
    pb.resize(4);
    await expect(px).resolves.toBeUndefined();
    expect(bytesOf(x).equals(want)).toBe(true);
  });

  it('resize() shrink then grow back mid-call: the memory holds the rows again, so the call goes on', async () => {
    if (!hasResize) {
      expect((resizable(8, 16) as Partial<Resizable>).resize).toBeUndefined();
      return;
    }
    const buf = resizable(T * H * D * 4, T * H * D * 4);
    const x = fill(new Float32Array(buf), 7);
    const want = new Float32Array(rotated(x, { heads: H, positions: 9 }).buffer.slice(0));
    const p = rope.applyAsync(x, { heads: H, positions: 9 });
    buf.resize(64);
    buf.resize(T * H * D * 4); // every byte past 64 is zero now
    await expect(p).resolves.toBeUndefined();
    // The first slice had rotated before the shrink: only its first 16 elements survive; the
    // zeros the shrink left are rotated to zeros.
    for (let i = 0; i < x.length; i++) {
      const expected = i < 16 ? want[i] : 0;
      if (x[i] !== expected) expect([i, x[i]]).toEqual([i, expected]);
    }
  });

  it('transfer() / transferToFixedLength() / structuredClone transfer mid-call: a TypeError naming the tokens rotated; the new owner holds exactly those rotated', async () => {
    const moves: [string, (b: ArrayBuffer) => ArrayBuffer][] = [
      ['structuredClone', (b) => structuredClone(b, { transfer: [b] })],
    ];
    if (hasTransfer) {
      moves.push(['transfer(n)', (b) => (b as Transferable).transfer(b.byteLength * 2)]);
      moves.push(['transfer(smaller)', (b) => (b as Transferable).transfer(b.byteLength / 2)]);
      moves.push(['transferToFixedLength', (b) => (b as Transferable).transferToFixedLength()]);
    } else {
      expect(Number(process.versions.node.split('.')[0])).toBeLessThan(22); // transfer() ships in Node 22
    }
    for (const [name, move] of moves) {
      const x = fill(new Float32Array(T * H * D), 8);
      const want = rotated(x, { heads: H, positions: 0 });
      const before = bytesOf(x);
      const p = rope.applyAsync(x, { heads: H, positions: 0 });
      const moved = move(x.buffer as ArrayBuffer);
      expect(x.byteLength, name).toBe(0);
      await expect(p, name).rejects.toThrow(TypeError);
      await expect(p, name).rejects.toThrow(`x's buffer was detached (transferred) while applyAsync ran, ${rotatedFirst}`);
      const n = Math.min(moved.byteLength, before.length);
      expect(split(bytesOf(moved).subarray(0, n), want, before, SLICE, H * D * 4), name).toBe(true);
    }
  });

  it('q on a SharedArrayBuffer, k on an ArrayBuffer transferred mid-call: names k; q rotated up to the same token', async () => {
    const q = fill(new Float32Array(new SharedArrayBuffer(T * H * D * 4)), 14);
    const k = fill(new Float32Array(T * 2 * D), 15);
    const q0 = bytesOf(q), k0 = bytesOf(k);
    const qw = Float32Array.from(q), kw = k.slice();
    rope.applyQK(qw, kw, { qHeads: H, kHeads: 2, positions: 4 });
    const p = rope.applyQKAsync(q, k, { qHeads: H, kHeads: 2, positions: 4 });
    const moved = structuredClone(k.buffer as ArrayBuffer, { transfer: [k.buffer as ArrayBuffer] });
    await expect(p).rejects.toThrow(`k's buffer was detached (transferred) while applyQKAsync ran, ${rotatedFirst}`);
    expect(split(bytesOf(q), bytesOf(qw), q0, SLICE, H * D * 4)).toBe(true);
    expect(split(bytesOf(moved), bytesOf(kw), k0, SLICE, 2 * D * 4)).toBe(true);
  });

  it('SharedArrayBuffer memory is rotated in place; growing it mid-call changes nothing', async () => {
    const SAB = SharedArrayBuffer as unknown as new (n: number, o?: object) => SharedArrayBuffer & { grow?(n: number): void };
    const sab = new SAB(T * H * D * 4, { maxByteLength: T * H * D * 8 });
    const x = fill(new Float32Array(sab, 0, T * H * D), 9);
    const want = rotated(x, { heads: H, positions: 2 });
    const p = rope.applyAsync(x, { heads: H, positions: 2 });
    if (typeof sab.grow === 'function') sab.grow(T * H * D * 8);
    await p;
    expect(bytesOf(x).equals(want)).toBe(true);
  });
});

describe.each(engines)('%s engine: aliasing judged by memory, not by object', (engine) => {
  const rope = createRope(opts, engine);

  it('positions inside x through a second SharedArrayBuffer object (structuredClone): rotated with the positions as they were', async () => {
    const T = 16, H = 2;
    for (const call of ['apply', 'applyAsync'] as const) {
      const sab = new SharedArrayBuffer(T * H * D * 4);
      const x = fill(new Float32Array(sab), 10);
      // positions live in token 0's first head row, which the walk rotates before reading token 1's
      const pos = new Int32Array(structuredClone(sab), 0, T);
      for (let t = 0; t < T; t++) pos[t] = 1000 + 37 * t;
      expect(pos.buffer).not.toBe(x.buffer);
      expect(new Int32Array(sab)[3]).toBe(1000 + 37 * 3); // one memory
      const ref = Float32Array.from(x); // its own memory, same bytes
      rope.apply(ref, { heads: H, positions: Int32Array.from(pos) });
      if (call === 'apply') rope.apply(x, { heads: H, positions: pos });
      else await rope.applyAsync(x, { heads: H, positions: pos });
      expect(bytesOf(x).equals(bytesOf(ref)), call).toBe(true);
    }
  });

  it('q and k over one memory through two SharedArrayBuffer objects: refused like views of one buffer, nothing written', async () => {
    const sab = new SharedArrayBuffer(4 * D * 8);
    const all = fill(new Float32Array(sab), 11);
    const before = bytesOf(all);
    const other = structuredClone(sab);
    const cases: [string, Float32Array, Float32Array, RegExp][] = [
      ['same rows', new Float32Array(sab, 0, 4 * D), new Float32Array(other, 0, 4 * D), /q and k are the same array/],
      ['overlapping rows', new Float32Array(sab, 0, 4 * D), new Float32Array(other, 4 * D * 2, 4 * D), /q and k overlap/],
    ];
    for (const [name, q, k, re] of cases) {
      const o = { qHeads: 1, kHeads: 1, positions: 0 };
      expect(() => rope.applyQK(q, k, o), name).toThrow(re);
      await expect(rope.applyQKAsync(q, k, o), name).rejects.toThrow(re);
      expect(bytesOf(all).equals(before), name).toBe(true);
    }
    // Disjoint rows of one memory through two objects: fine, and the same as one object.
    const q = new Float32Array(sab, 0, 4 * D), k = new Float32Array(other, 4 * D * 4, 4 * D);
    const ref = Float32Array.from(all);
    rope.applyQK(new Float32Array(ref.buffer, 0, 4 * D), new Float32Array(ref.buffer, 4 * D * 4, 4 * D), { qHeads: 1, kHeads: 1, positions: 3 });
    await rope.applyQKAsync(q, k, { qHeads: 1, kHeads: 1, positions: 3 });
    expect(bytesOf(all).equals(bytesOf(ref))).toBe(true);
  });

  it('two unrelated SharedArrayBuffers with equal bytes are not one memory', () => {
    const a = fill(new Float32Array(new SharedArrayBuffer(4 * D * 4)), 12);
    const b = new Float32Array(new SharedArrayBuffer(4 * D * 4));
    b.set(a);
    const b0 = bytesOf(b);
    rope.applyQK(a, b, { qHeads: 1, kHeads: 1, positions: 1 });
    expect(bytesOf(b).equals(b0)).toBe(false); // rotated, not refused
  });
});

describe.each(engines)('%s engine: options that pass their own check but break invFreq', (engine) => {
  const cases: [string, object, RegExp][] = [
    ['base 1e-300', { headDim: D, base: 1e-300 }, /^base 1e-300 makes invFreq\[\d+\] = .*: the rotation frequencies must be > 0 and below 2\^21 \(check base\)$/],
    ['base 1e-30', { headDim: D, base: 1e-30 }, /^base 1e-30 makes invFreq/],
    ['linear factor 1e-320', { headDim: D, scaling: { type: 'linear', factor: 1e-320 } }, /^scaling \{ type: 'linear', factor: 1e-320 \} makes invFreq\[0\] = Infinity.*\(check scaling\)$/],
    ['linear factor 1e-7', { headDim: D, scaling: { type: 'linear', factor: 1e-7 } }, /^scaling \{ type: 'linear', factor: 1e-7 \} makes invFreq\[0\] = 10000000/],
    ['linear factor 1e308', { headDim: D, base: 1e20, scaling: { type: 'linear', factor: 1e308 } }, /^scaling .*factor: 1e\+308.* makes invFreq\[\d+\] = 0:/],
  ];
  it.each(cases)('%s: the constructor throws a RangeError naming the option', (_, o, re) => {
    expect(() => createRope(o as never, engine)).toThrow(RangeError);
    expect(() => createRope(o as never, engine)).toThrow(re);
  });
  it('the largest accepted frequencies still rotate exactly like float64 math (no NaN, engines agree)', () => {
    const rope = createRope({ headDim: 2, scaling: { type: 'linear', factor: 2 ** -20 } }, engine);
    expect(rope.invFreq[0]).toBe(2 ** 20);
    const x = new Float32Array([1, 0]);
    rope.apply(x, { heads: 1, positions: 2 ** 31 - 1 });
    const a = (2 ** 31 - 1) * 2 ** 20; // exact in float64
    expect(Math.abs(x[0] - Math.cos(a))).toBeLessThan(1e-7);
    expect(Math.abs(x[1] - Math.sin(a))).toBeLessThan(1e-7);
  });
});

describe('Rope on the default engine', () => {
  it('a SharedArrayBuffer positions array rewritten after the call returns does not matter (copied)', () => {
    const rope = new Rope(opts);
    const pos = new Int32Array(new SharedArrayBuffer(8)).fill(4);
    const x = fill(new Float32Array(2 * D), 13), y = x.slice();
    rope.apply(x, { heads: 1, positions: pos });
    rope.apply(y, { heads: 1, positions: Int32Array.of(4, 4) });
    expect(bytesOf(x).equals(bytesOf(y))).toBe(true);
  });
});
