// threads: 'auto' above its size floor (2 MiB of rotated rows) times its own calls and picks one
// thread or several per size class (native/threadpool.cc), re-trying the other choice now and then.
// Whatever it picks, each call must give the bytes of threads: 1: checked over enough calls that
// both choices and the periodic re-try run.
import { describe, expect, it } from 'vitest';
import { Rope } from '../lib/rope.js';
import { rng } from './helpers/engine-ref.js';
import { loadAddon } from './helpers/addon.js';

const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe.runIf(loadAddon() !== null)("threads: 'auto' above 2 MiB", () => {
  it('gives the bytes of threads: 1 on every call, while it learns (40 calls, two size classes)', () => {
    const D = 128, qH = 32, kH = 8;
    const rope = new Rope({ headDim: D, base: 500000 });
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
