// rotarySlice 'trailing': each head laid out [nope | rope] (DeepSeek-V4's x[..., -rope_dim:]) rotates
// its last rotaryDim values and leaves the first headDim - rotaryDim as they are, on every engine and
// every call form. Expected values come from the rotation formula written here in float64.
import { describe, expect, it } from 'vitest';
import { createRope } from '../../lib/rope.js';
import { nativeAddon } from '../../lib/backend.js';

const ENGINES: ('js' | 'wasm' | 'native')[] = nativeAddon ? ['js', 'wasm', 'native'] : ['js', 'wasm'];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** x [tokens, heads, headDim] rotated as transformers' apply_rotary_pos_emb on x[..., -rot:] with
 * adjacent pairs (style 'interleaved') or halves ('half'), float64, base theta. */
function expected(x: Float32Array, tokens: number, heads: number, headDim: number, rot: number, positions: number[], style: 'half' | 'interleaved', theta: number): Float32Array {
  const out = Float32Array.from(x);
  const off = headDim - rot;
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const row = (t * heads + h) * headDim + off;
      for (let j = 0; j < rot / 2; j++) {
        const a = positions[t] * theta ** (-(2 * j) / rot);
        const [ix, iy] = style === 'half' ? [j, j + rot / 2] : [2 * j, 2 * j + 1];
        const u = x[row + ix];
        const v = x[row + iy];
        out[row + ix] = u * Math.cos(a) - v * Math.sin(a);
        out[row + iy] = v * Math.cos(a) + u * Math.sin(a);
      }
    }
  }
  return out;
}

function maxErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

describe.each(ENGINES)('rotarySlice trailing on the %s engine', (engine) => {
  const D = 24;
  const R = 8;
  const positions = [0, 1, 7, 4095, 100000];
  const T = positions.length;

  for (const style of ['interleaved', 'half'] as const) {
    it(`apply (${style}): the last ${R} values of each head rotate, the first ${D - R} stay`, () => {
      const rope = createRope({ headDim: D, rotaryDim: R, base: 10000, style, rotarySlice: 'trailing' }, engine);
      expect(rope.rotarySlice).toBe('trailing');
      const r = rng(3);
      const x = new Float32Array(T * 3 * D).map(() => r());
      const want = expected(x, T, 3, D, R, positions, style, 10000);
      rope.apply(x, { heads: 3, positions: Int32Array.from(positions) });
      expect(maxErr(x, want)).toBeLessThan(2e-6);
      // the nope part is bit-identical
      const x0 = new Float32Array(T * 3 * D).map(rng(3));
      for (let row = 0; row < T * 3; row++) {
        for (let i = 0; i < D - R; i++) expect(x[row * D + i]).toBe(x0[row * D + i]);
      }
    });
  }

  it('applyQK, bf16 and applyAsync agree with apply', async () => {
    const rope = createRope({ headDim: D, rotaryDim: R, rotarySlice: 'trailing', style: 'interleaved' }, engine);
    const r = rng(5);
    const q = new Float32Array(T * 4 * D).map(() => r());
    const k = new Float32Array(T * 2 * D).map(() => r());
    const wq = expected(q, T, 4, D, R, positions, 'interleaved', 10000);
    const wk = expected(k, T, 2, D, R, positions, 'interleaved', 10000);
    const pos = Int32Array.from(positions);
    const q1 = q.slice();
    const k1 = k.slice();
    rope.applyQK(q1, k1, { qHeads: 4, kHeads: 2, positions: pos });
    expect(maxErr(q1, wq)).toBeLessThan(2e-6);
    expect(maxErr(k1, wk)).toBeLessThan(2e-6);
    const q2 = q.slice();
    await rope.applyAsync(q2, { heads: 4, positions: pos });
    expect(q2).toEqual(q1);
    const step = rope.prepare({ qHeads: 4, kHeads: 2 });
    const q3 = q.slice();
    const k3 = k.slice();
    step.applyQK(q3, k3, pos);
    expect(q3).toEqual(q1);
    expect(k3).toEqual(k1);
    // bf16: the nope bits stay, the rope part within bf16 rounding
    const toBf16 = (a: Float32Array): Uint16Array => Uint16Array.from(new Uint32Array(a.buffer.slice(0)), (u) => u >>> 16);
    const fromBf16 = (a: Uint16Array): Float32Array => new Float32Array(Uint32Array.from(a, (b) => b << 16).buffer);
    const qb = toBf16(q);
    const before = qb.slice();
    rope.apply(qb, { heads: 4, positions: pos, dtype: 'bf16' });
    const wb = expected(fromBf16(before), T, 4, D, R, positions, 'interleaved', 10000);
    expect(maxErr(fromBf16(qb), wb)).toBeLessThan(1e-2);
    for (let row = 0; row < T * 4; row++) for (let i = 0; i < D - R; i++) expect(qb[row * D + i]).toBe(before[row * D + i]);
  });

  it('applyAsync past the inline size (slices, and the pool on SharedArrayBuffer memory) rotates what apply rotates', async () => {
    const rope = createRope({ headDim: D, rotaryDim: R, rotarySlice: 'trailing', style: 'half' }, engine);
    const tokens = 4096;
    const r = rng(13);
    const x = new Float32Array(tokens * 8 * D).map(() => r());
    const want = x.slice();
    rope.apply(want, { heads: 8, positions: 7 });
    const shared = new Float32Array(new SharedArrayBuffer(x.byteLength));
    shared.set(x);
    const plain = x.slice();
    await Promise.all([rope.applyAsync(shared, { heads: 8, positions: 7 }), rope.applyAsync(plain, { heads: 8, positions: 7 })]);
    expect(shared).toEqual(want);
    expect(plain).toEqual(want);
    for (let row = 0; row < tokens * 8; row += 997) for (let i = 0; i < D - R; i++) expect(want[row * D + i]).toBe(x[row * D + i]);
  });

  it('applyQK with a cache writes the rotated trailing slice and the unrotated nope part', () => {
    const rope = createRope({ headDim: D, rotaryDim: R, rotarySlice: 'trailing', style: 'interleaved' }, engine);
    const r = rng(9);
    const q = new Float32Array(T * 2 * D).map(() => r());
    const k = new Float32Array(T * 2 * D).map(() => r());
    const v = new Float32Array(T * 2 * D).map(() => r());
    const cache = { k: new Float32Array(T * 2 * D), v: new Float32Array(T * 2 * D), slots: 0 };
    rope.applyQK(q, k, { qHeads: 2, kHeads: 2, positions: Int32Array.from(positions), v, cache });
    expect(maxErr(cache.k, expected(k, T, 2, D, R, positions, 'interleaved', 10000))).toBeLessThan(2e-6);
    expect(cache.v).toEqual(v);
  });

  it('bounds: a tight array fits; one value short is refused and nothing is written', () => {
    const rope = createRope({ headDim: D, rotaryDim: R, rotarySlice: 'trailing' }, engine);
    const x = new Float32Array(2 * D).fill(1);
    rope.apply(x, { heads: 1, positions: Int32Array.from([3, 4]) });
    expect(x[2 * D - 1]).not.toBe(1);
    const short = new Float32Array(2 * D - 1).fill(1);
    expect(() => rope.apply(short, { heads: 1, tokens: 2, positions: Int32Array.from([3, 4]) })).toThrow(RangeError);
    expect(short.every((v) => v === 1)).toBe(true);
  });
});

describe('rotarySlice options', () => {
  it("is 'leading' by default; a value other than 'leading' or 'trailing' is refused by name", () => {
    expect(createRope({ headDim: 8, rotaryDim: 4 }, 'js').rotarySlice).toBe('leading');
    expect(() => createRope({ headDim: 8, rotaryDim: 4, rotarySlice: 'last' as never }, 'js')).toThrow(/rotarySlice must be 'leading' or 'trailing', got 'last'/);
    expect(() => createRope({ headDim: 8, rotaryDim: 4, rotarySlise: 'trailing' } as never, 'js')).toThrow(/rotarySlise/);
  });

  it("with rotaryDim == headDim, 'trailing' rotates the whole head as 'leading' does", () => {
    const a = new Float32Array(16).map(rng(1));
    const b = a.slice();
    createRope({ headDim: 8, rotarySlice: 'trailing' }, 'js').apply(a, { heads: 1, positions: Int32Array.from([5, 9]) });
    createRope({ headDim: 8 }, 'js').apply(b, { heads: 1, positions: Int32Array.from([5, 9]) });
    expect(a).toEqual(b);
  });
});
