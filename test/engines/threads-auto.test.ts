// threads: 'auto' above its size floor (2 MiB of rotated rows) times its own calls and picks one
// thread or several per size class (native/auto_threads.cc), re-trying the other choice now and then.
// Whatever it picks, each call must give the bytes of threads: 1: checked over enough calls that
// both choices and the periodic re-try run.
import { describe, expect, it } from 'vitest';
import { createRope, nativeAddon } from '../../lib/internal.js';
import { rng } from '../helpers/engine-ref.js';

const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

// The native stages of `npm test` run this on the native engine; the ROPE_SIMD_BACKEND=js and =wasm
// stages have no native engine, by request (the JS and wasm engines take threads and ignore it).
const forced = process.env.ROPE_SIMD_BACKEND === 'js' || process.env.ROPE_SIMD_BACKEND === 'wasm';
if (forced) {
  describe(`threads: 'auto' (${process.env.ROPE_SIMD_BACKEND}-only run)`, () => {
    it('has no native engine, by request', () => expect(nativeAddon).toBe(null));
  });
} else describe("threads: 'auto' above 2 MiB, native engine", () => {
  it('the native engine is available on this machine', () => expect(nativeAddon).not.toBe(null));

  it('gives the bytes of threads: 1 on every call, while it learns (40 calls, two size classes)', () => {
    const D = 128, qH = 32, kH = 8;
    const rope = createRope({ headDim: D, base: 500000 }, 'native');
    for (const T of [160, 400]) { // 3.1 MiB and 7.8 MiB of rows (40 heads x 512 bytes per token)
      const r = rng(T);
      const q = Float32Array.from({ length: T * qH * D }, () => r() * 2 - 1);
      const k = Float32Array.from({ length: T * kH * D }, () => r() * 2 - 1);
      const q1 = q.slice(), k1 = k.slice();
      for (let call = 0; call < 20; call++) {
        const positions = call * 37;
        rope.applyQK(q, k, { qHeads: qH, kHeads: kH, positions, threads: 'auto' });
        rope.applyQK(q1, k1, { qHeads: qH, kHeads: kH, positions, threads: 1 });
        expect(bytes(q).equals(bytes(q1))).toBe(true);
        expect(bytes(k).equals(bytes(k1))).toBe(true);
      }
    }
  });
});
