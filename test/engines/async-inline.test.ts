// Small async calls (at most ASYNC_INLINE_BYTES rotated) run inline in the facade: the same bytes
// as the sync call, rotated by the time the promise is returned, and the same refusals (a
// rejection with the sync call's error, nothing written). Larger calls still go to the engine's
// async path (not yet rotated when the call returns, on the native engine).
import { describe, expect, it } from 'vitest';
import { ASYNC_INLINE_BYTES, Rope } from '../../lib/rope.js';
import { createRope, nativeAddon } from '../../lib/internal.js';
import { rng } from '../helpers/engine-ref.js';

const ENGINES = nativeAddon ? (['js', 'wasm', 'native'] as const) : (['js', 'wasm'] as const);
const onMemory = (a: Float32Array, shared: boolean): Float32Array => {
  if (!shared) return a;
  const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
};

const random = (n: number, seed: number): Float32Array => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};
const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('async calls of decode size run inline', () => {
  const D = 128;
  const rope = new Rope({ headDim: D, base: 500000 });

  it('same bytes as sync, done when the promise is returned (applyQKAsync, applyAsync)', async () => {
    for (const [qH, kH, T] of [[32, 8, 1], [4, 1, 3], [32, 8, 16]]) {
      expect(T * (qH + kH) * D * 4).toBeLessThanOrEqual(ASYNC_INLINE_BYTES);
      const q = random(T * qH * D, qH + T), k = random(T * kH * D, kH + 7 * T);
      const q2 = q.slice(), k2 = k.slice();
      rope.applyQK(q2, k2, { qHeads: qH, kHeads: kH, positions: 4095 });
      const p = rope.applyQKAsync(q, k, { qHeads: qH, kHeads: kH, positions: 4095 });
      expect(bytes(q).equals(bytes(q2))).toBe(true); // already rotated
      expect(bytes(k).equals(bytes(k2))).toBe(true);
      await expect(p).resolves.toBeUndefined();
      const x = random(T * qH * D, 99), x2 = x.slice();
      rope.apply(x2, { heads: qH, positions: new Int32Array(T).fill(7) });
      const px = rope.applyAsync(x, { heads: qH, positions: new Int32Array(T).fill(7) });
      expect(bytes(x).equals(bytes(x2))).toBe(true);
      await px;
    }
  });

  it('same refusals as sync: a rejection with its error, nothing written', async () => {
    const q = random(2 * D, 1), k = random(D, 2);
    const before = [Buffer.from(bytes(q)), Buffer.from(bytes(k))];
    const bad: object[] = [
      { qHeads: 2, kHeads: 1, positions: -1 },
      { qHeads: 3, kHeads: 1, positions: 0 },
      { qHeads: 2, kHeads: 1, positions: new Int32Array([1, 2]) },
      { qHeads: 2, kHeads: 1, positions: 0, threads: 0 },
      { qHeads: 2, kHeads: 1, positions: 0, dtype: 'bf16' },
    ];
    for (const opts of bad) {
      let syncError: Error | null = null;
      try {
        rope.applyQK(q, k, opts as never);
      } catch (e) {
        syncError = e as Error;
      }
      expect(syncError).not.toBeNull();
      const p = rope.applyQKAsync(q, k, opts as never);
      await expect(p).rejects.toThrow(syncError!.message);
      await p.catch((e: unknown) => expect(e).toBeInstanceOf(syncError!.constructor));
    }
    expect(bytes(q).equals(before[0])).toBe(true);
    expect(bytes(k).equals(before[1])).toBe(true);
    const shared = random(4 * D, 3);
    await expect(rope.applyQKAsync(shared.subarray(0, 2 * D), shared.subarray(D, 2 * D), { qHeads: 2, kHeads: 1, positions: 0 })).rejects.toThrow(/overlap/);
  });

  // Each engine's async path past the line, on plain memory and on SharedArrayBuffer memory (which
  // the native engine rotates off the JS thread).
  it.each(ENGINES)('%s engine: a call past the line (the engine\'s async path) gives the sync bytes', async (engine) => {
    const r = createRope({ headDim: D, base: 500000 }, engine);
    expect(r.engine).toBe(engine);
    const T = 64, qH = 32, kH = 8;
    expect(T * (qH + kH) * D * 4).toBeGreaterThan(ASYNC_INLINE_BYTES);
    for (const shared of [false, true]) {
      const q = onMemory(random(T * qH * D, 5), shared), k = onMemory(random(T * kH * D, 6), shared);
      const q2 = q.slice(), k2 = k.slice();
      r.applyQK(q2, k2, { qHeads: qH, kHeads: kH, positions: 0 });
      await r.applyQKAsync(q, k, { qHeads: qH, kHeads: kH, positions: 0, threads: 1 });
      expect(bytes(q).equals(bytes(q2)), `shared ${shared}`).toBe(true);
      expect(bytes(k).equals(bytes(k2)), `shared ${shared}`).toBe(true);
      expect(bytes(q).equals(bytes(random(T * qH * D, 5))), 'rotated at all').toBe(false);
    }
  });
});
