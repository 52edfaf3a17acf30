// applyAsync / applyQKAsync. Through the Rope (whichever engine this run uses): same bits as the
// sync calls, refusals reject (nothing thrown, nothing written), concurrent calls = sequential
// sync calls, a detached buffer rejects with a TypeError. Through the addon itself (loaded
// directly, so these run under ROPE_SIMD_BACKEND=js too): the event loop keeps turning during an
// S4-sized call on SharedArrayBuffer memory (rotated in place); an ArrayBuffer is rotated in a
// native copy, and one transferred mid-call (then collected) rejects, writes nothing, crashes
// nothing (native/binding/async.h). More attacks: test/safety/async-memory.test.ts.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { NativeAddon, NativeRopeHandle } from '../../lib/abi.js';
import { Rope } from '../../lib/rope.js';
import { rng } from '../helpers/engine-ref.js';
import { loadAddon, loadTestingAddon } from '../helpers/addon.js';

const addon = loadAddon<NativeAddon>();
// runsInPlace: the testing addon's (the production addon exports no test hook).
const testing = loadTestingAddon<NativeAddon>();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const random = (n: number, seed: number): Float32Array => {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
};
const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
// First byte where a and b differ, -1 if none and same length (toEqual on megabytes is too slow).
function diff(a: ArrayBufferView | ArrayBuffer, b: ArrayBufferView): number {
  const x = a instanceof ArrayBuffer ? Buffer.from(a) : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (x.length === y.length && x.equals(y)) return -1;
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return i;
  return Math.min(x.length, y.length);
}

describe('Rope.applyAsync / applyQKAsync', () => {
  const D = 64;
  const rope = new Rope({ headDim: D, rotaryDim: 48, base: 10000 });

  it('rotate like a plain float64 rotation (small case)', async () => {
    const H = 2, T = 3, pos = [7, 0, 70000];
    const x = random(T * H * D, 1);
    const want = Float64Array.from(x);
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++)
        for (let j = 0; j < 24; j++) {
          const a = pos[t] * 10000 ** (-(2 * j) / 48);
          const i = (t * H + h) * D;
          const x1 = x[i + j], x2 = x[i + j + 24];
          want[i + j] = x1 * Math.cos(a) - x2 * Math.sin(a);
          want[i + j + 24] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
    await expect(rope.applyAsync(x, { heads: H, positions: Int32Array.from(pos) })).resolves.toBeUndefined();
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - want[i])).toBeLessThan(2e-6);
  });

  it('equal apply / applyQK bit for bit: f32, f16 bits, bf16, batch, bhsd, inverse, threads', async () => {
    const r = rng(5);
    for (let c = 0; c < 24; c++) {
      const dtype = (['f32', 'f16', 'bf16'] as const)[c % 3];
      const layout = (['shd', 'bshd', 'bhsd'] as const)[Math.floor(c / 3) % 3];
      const batch = layout === 'shd' ? 1 : 1 + Math.floor(r() * 3);
      const T = 1 + Math.floor(r() * 40), qH = 1 + Math.floor(r() * 4), kH = 1 + Math.floor(r() * 3);
      const mk = (heads: number) => {
        const f = random(batch * T * heads * D, c * 7 + heads);
        if (dtype === 'f32') return f;
        return Uint16Array.from(new Uint32Array(f.buffer), (b) => b >>> 16);
      };
      const q = mk(qH), k = mk(kH);
      const opts = { qHeads: qH, kHeads: kH, positions: Math.floor(r() * 1e6), layout, batch, dtype, inverse: c % 2 === 1, threads: 1 + (c % 3) };
      const q2 = q.slice(), k2 = k.slice();
      rope.applyQK(q as Float32Array, k as Float32Array, opts as never);
      await rope.applyQKAsync(q2 as Float32Array, k2 as Float32Array, opts as never);
      expect(diff(q2, q)).toBe(-1);
      expect(diff(k2, k)).toBe(-1);
      const x = mk(qH), x2 = x.slice();
      const o = { heads: qH, positions: opts.positions, layout, batch, dtype, threads: 'auto' as const };
      rope.apply(x as Float32Array, o as never);
      await rope.applyAsync(x2 as Float32Array, o as never);
      expect(diff(x2, x)).toBe(-1);
    }
  });

  it('a refused call rejects (never throws) and writes nothing', async () => {
    const q = random(4 * 2 * D, 3), k = random(4 * D, 4);
    const q0 = bytes(q), k0 = bytes(k);
    const cases: [() => Promise<void>, ErrorConstructor, RegExp][] = [
      [() => rope.applyAsync(q, { heads: 3, positions: 0 }), RangeError, /length/],
      [() => rope.applyAsync(q, { heads: 2, positions: -1 }), RangeError, /positions/],
      [() => rope.applyAsync(q, { heads: 2, positions: 0, threads: 0 }), RangeError, /threads/],
      [() => rope.applyAsync(q, { heads: 2, positions: 0, threads: 'x' as never }), TypeError, /threads/],
      [() => rope.applyQKAsync(q, k, { qHeads: 2, kHeads: 1, positions: Int32Array.from([1, 2, -3, 4]) }), RangeError, /negative/],
      [() => rope.applyQKAsync(q, q, { qHeads: 2, kHeads: 2, positions: 0 }), RangeError, /overlap|same|share/],
      [() => rope.applyAsync(null as unknown as Float32Array, { heads: 2, positions: 0 }), TypeError, /x/],
    ];
    for (const [call, type, re] of cases) {
      let p: Promise<void> | undefined;
      expect(() => (p = call())).not.toThrow();
      await expect(p).rejects.toThrow(type);
      await expect(p).rejects.toThrow(re);
      expect(diff(q, q0)).toBe(-1);
      expect(diff(k, k0)).toBe(-1);
    }
  });

  it('a buffer detached before the call rejects with a TypeError', async () => {
    const x = random(2 * D, 9);
    structuredClone(x.buffer as ArrayBuffer, { transfer: [x.buffer as ArrayBuffer] });
    await expect(rope.applyAsync(x, { heads: 1, positions: 0 })).rejects.toThrow(TypeError);
    await expect(rope.applyAsync(x, { heads: 1, positions: 0 })).rejects.toThrow(/detached/);
    const q = random(2 * D, 10);
    const k = random(2 * D, 11);
    structuredClone(k.buffer as ArrayBuffer, { transfer: [k.buffer as ArrayBuffer] });
    await expect(rope.applyQKAsync(q, k, { qHeads: 1, kHeads: 1, positions: 0 })).rejects.toThrow(TypeError);
  });

  it('concurrent async calls on different arrays = sequential sync calls', async () => {
    const n = 8;
    const H = 4, T = 300;
    const inputs = Array.from({ length: n }, (_, i) => ({ q: random(T * H * D, 100 + i), k: random(T * D, 200 + i), pos: i * 1000 }));
    const sync = inputs.map(({ q, k, pos }) => {
      const a = q.slice(), b = k.slice();
      rope.applyQK(a, b, { qHeads: H, kHeads: 1, positions: pos, threads: 1 });
      return [bytes(a), bytes(b)];
    });
    await Promise.all(inputs.map(({ q, k, pos }, i) => rope.applyQKAsync(q, k, { qHeads: H, kHeads: 1, positions: pos, threads: 1 + (i % 3) })));
    inputs.forEach(({ q, k }, i) => {
      expect(diff(q, sync[i][0])).toBe(-1);
      expect(diff(k, sync[i][1])).toBe(-1);
    });
  });
});

describe('the addon on the libuv pool (loaded directly)', () => {
  const D = 128;
  const invFreq = Float64Array.from({ length: D / 2 }, (_, j) => 500000 ** (-(2 * j) / D));
  const handle: NativeRopeHandle = new addon.NativeRope(D, D, 0, null, 1);
  // 'shd' q and k; threads as given (0 = auto).
  const desc = (T: number, qH: number, kH: number, threads: number): Float64Array => {
    const d = new Float64Array(20);
    d.set([1, T, 0, 0, 0, 0, threads, 1]);
    d.set([0, qH, 0, T * qH * D, qH * D, D], 8);
    d.set([0, kH, 0, T * kH * D, kH * D, D], 14);
    return d;
  };

  // A timing test on a shared 2-core machine: another process can hold the main thread's core for
  // a while. Retried twice; an implementation that blocks the loop fails every attempt.
  it('an S4 applyQKAsync (4096 tokens x 40 heads x 128, f32) leaves the event loop free', { retry: 2 }, async () => {
    const T = 4096, qH = 32, kH = 8;
    // SharedArrayBuffer memory: rotated in place, nothing copied on the JS thread.
    const shared = (a: Float32Array) => {
      const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
      s.set(a);
      return s;
    };
    const q = shared(random(T * qH * D, 1)), k = shared(random(T * kH * D, 2));
    expect(testing.runsInPlace(q)).toBe(true);
    const want = [q.slice(), k.slice()];
    const t0 = performance.now();
    handle.apply(want[0], want[1], null, invFreq, desc(T, qH, kH, 1));
    const syncMs = performance.now() - t0;
    for (let i = 1; i < 3; i++) handle.apply(want[0], want[1], null, invFreq, desc(T, qH, kH, 1));
    gc(); // the setup's garbage: a full collection inside the window would be a pause of ours
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 1);
    await new Promise((r) => setTimeout(r, 5)); // the interval is running
    const start = performance.now();
    let last = start;
    let maxGap = 0;
    const n0 = ticks.length;
    // Three calls back to back: a window long enough to count ticks on a busy machine.
    for (let i = 0; i < 3; i++) await handle.applyAsync!(q, k, null, invFreq, desc(T, qH, kH, 1));
    const duration = performance.now() - start;
    clearInterval(timer);
    expect(diff(q, want[0])).toBe(-1);
    expect(diff(k, want[1])).toBe(-1);
    for (const t of ticks.slice(n0)) {
      maxGap = Math.max(maxGap, t - last);
      last = t;
    }
    maxGap = Math.max(maxGap, start + duration - last); // the tail of the window
    expect(syncMs).toBeGreaterThan(3); // an S4 call is long enough for the comparison to mean something
    expect(ticks.length - n0).toBeGreaterThanOrEqual(5);
    expect(maxGap).toBeLessThan(duration / 3);
  });

  it('validation errors throw before the promise exists and write nothing', () => {
    const q = random(4 * D, 3);
    const q0 = bytes(q);
    expect(() => handle.applyAsync!(q, null, null, invFreq, desc(5, 1, 1, 1))).toThrow(RangeError);
    expect(() => handle.applyAsync!(q, null, null, invFreq, desc(4, 1, 1, 1025))).toThrow(/threads/);
    expect(() => handle.applyAsync!(q, null, null, new Float64Array(3), desc(4, 1, 1, 1))).toThrow(/invFreq/);
    expect(diff(q, q0)).toBe(-1);
  });

  it('runsInPlace: SharedArrayBuffer memory (also growable) yes; ArrayBuffer, resizable or not, no', () => {
    expect(testing.runsInPlace(new Float32Array(new SharedArrayBuffer(16)))).toBe(true);
    expect(testing.runsInPlace(new Float32Array(4))).toBe(false);
    expect(testing.runsInPlace(new Uint16Array(new ArrayBuffer(16), 2))).toBe(false);
    const AB = ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer & { resizable?: boolean };
    const SAB = SharedArrayBuffer as unknown as new (n: number, o: object) => SharedArrayBuffer & { growable?: boolean };
    const r = new AB(16, { maxByteLength: 64 });
    const g = new SAB(16, { maxByteLength: 64 });
    // Node 18 has no resizable buffers (the option is ignored: a fixed buffer); either way: a copy.
    expect(r.resizable === true || !('resize' in ArrayBuffer.prototype)).toBe(true);
    expect(testing.runsInPlace(new Float32Array(r))).toBe(false);
    expect(testing.runsInPlace(new Float32Array(g))).toBe(true);
    expect(() => testing.runsInPlace({} as never)).toThrow(TypeError);
  });

  it('an ArrayBuffer transferred right after the call: the promise rejects, the moved bytes are unchanged', async () => {
    const T = 256, H = 64; // 8 MiB: past malloc's mmap threshold
    const x = random(T * H * D, 7);
    const before = x.slice();
    const p = handle.applyAsync!(x, null, null, invFreq, desc(T, H, 1, 2));
    const moved = structuredClone(x.buffer as ArrayBuffer, { transfer: [x.buffer as ArrayBuffer] });
    expect(x.byteLength).toBe(0);
    await expect(p).rejects.toThrow(TypeError);
    await expect(p).rejects.toThrow(/x's buffer was detached \(transferred\) while applyAsync ran: nothing was written/);
    expect(diff(moved, before)).toBe(-1);
  });

  it('an ArrayBuffer transferred mid-call and collected by its new owner: rejects, no crash (repeated)', async () => {
    // 64 MiB, one thread (~10+ ms of work): the walk rotates a native copy, so the collected
    // memory is never touched (this process died with SIGSEGV when the walk ran on it in place).
    const T = 4096, H = 32;
    const src = random(T * H * D, 20);
    for (let i = 0; i < 4; i++) {
      let x: Float32Array | null = src.slice();
      const p = handle.applyAsync!(x, null, null, invFreq, desc(T, H, 1, 1));
      structuredClone(x.buffer as ArrayBuffer, { transfer: [x.buffer as ArrayBuffer] }); // the new owner is dropped at once
      x = null;
      gc();
      await expect(p).rejects.toThrow(/detached/);
    }
    // Still healthy: a fresh call rotates correctly, on a copy and in place.
    const y = random(4 * D, 99);
    const z = y.slice();
    handle.apply(z, null, null, invFreq, desc(4, 1, 1, 1));
    await handle.applyAsync!(y, null, null, invFreq, desc(4, 1, 1, 1));
    expect(diff(y, z)).toBe(-1);
    const s = new Float32Array(new SharedArrayBuffer(y.byteLength));
    s.set(random(4 * D, 99));
    await handle.applyAsync!(s, null, null, invFreq, desc(4, 1, 1, 1));
    expect(diff(s, z)).toBe(-1);
  });

  it('handle.desc stays valid memory whoever lets go first (external buffer owned by two)', async () => {
    type WithDesc = NativeRopeHandle & { desc?: Float64Array };
    let h: WithDesc | null = new addon.NativeRope(D, D, 0, null, 1) as WithDesc;
    expect(h.desc).toBeInstanceOf(Float64Array);
    expect(h.desc!.length).toBe(20 + D / 2);
    // The handle goes first: JS keeps writing its desc.
    const kept = h.desc!;
    h = null;
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    kept.fill(1.5);
    expect(kept[kept.length - 1]).toBe(1.5);
    // The buffer goes first (transferred, the new owner dropped): the handle still works.
    const h2 = new addon.NativeRope(D, D, 0, null, 1) as WithDesc;
    const d = h2.desc!;
    try {
      structuredClone(d.buffer as ArrayBuffer, { transfer: [d.buffer as ArrayBuffer] });
    } catch {
      // a runtime may refuse to transfer an external buffer: also fine
    }
    // Detached (Node may instead copy a buffer it cannot detach): either way the handle's memory
    // is its own.
    expect([0, 20 + D / 2]).toContain(d.length);
    gc();
    await new Promise((r) => setImmediate(r));
    const x = random(4 * D, 5), y = x.slice();
    h2.apply(x, null, null, invFreq, desc(4, 1, 1, 1));
    handle.apply(y, null, null, invFreq, desc(4, 1, 1, 1));
    expect(diff(x, y)).toBe(-1);
  });

  it('SharedArrayBuffer positions rewritten mid-call (negative, huge) cannot break memory safety', async () => {
    const T = 2048, H = 16;
    const x = random(T * H * D, 31);
    const pos = new Int32Array(new SharedArrayBuffer(T * 4)).map((_, i) => i);
    const p = handle.applyAsync!(x, null, pos, invFreq, desc(T, H, 1, 2));
    for (let i = 0; i < T; i++) pos[i] = i % 2 ? -2147483648 : 2147483647;
    await p;
    for (let i = 0; i < x.length; i += 997) expect(Number.isFinite(x[i])).toBe(true);
  });
});
