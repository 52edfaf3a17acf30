// applyQK's cache option refused: each bad call throws a message that says what was wrong and
// what was expected, and writes nothing (q, k, v, both caches, every byte of a shared buffer).
// Options are read once (a getter runs once), on every engine.
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../lib/backend.js';
import { createRope } from '../../lib/rope.js';

const ENGINES: ('js' | 'wasm' | 'native')[] = ['js'];
try {
  createRope({ headDim: 2 }, 'wasm');
  ENGINES.push('wasm');
} catch {
  // (no WebAssembly SIMD here)
}
if (nativeAddon) ENGINES.push('native');

describe.each(ENGINES)('refusals on the %s engine: a clear error, nothing written', (engine) => {
  const D = 8;
  const base = () => {
    const buf = new ArrayBuffer(4 * 1024);
    const q = new Float32Array(3 * 4 * D).map((_, i) => Math.sin(i));
    const k = new Float32Array(3 * 2 * D).map((_, i) => Math.cos(i));
    const v = new Float32Array(3 * 2 * D).map((_, i) => i / 7);
    const kc = new Float32Array(4 * 2 * D).fill(-3);
    const vc = new Float32Array(4 * 2 * D).fill(-4);
    return { buf, q, k, v, kc, vc };
  };
  type B = ReturnType<typeof base>;
  const cases: [string, (b: B) => Record<string, unknown>, RegExp][] = [
    ['an unknown cache key', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slot: 0 } }), /cache does not take the option 'slot': did you mean 'slots'\?/],
    ['v without cache', (b) => ({ v: b.v }), /v is written to a KV cache: pass cache/],
    ['cache.v without v', (b) => ({ cache: { k: b.kc, v: b.vc, slots: 0 } }), /cache\.v needs v/],
    ['v without cache.v', (b) => ({ v: b.v, cache: { k: b.kc, slots: 0 } }), /v needs cache\.v/],
    ['a Uint16Array cache without dtype', (b) => ({ v: b.v, cache: { k: new Uint16Array(64), v: new Uint16Array(64), slots: 0 } }), /cache\.dtype is required for a Uint16Array cache\.k: 'f16' or 'bf16'/],
    ['a dtype that is not the array', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: 0, dtype: 'bf16' } }), /cache\.dtype 'bf16' does not match cache\.k, a Float32Array/],
    ['cache.v of another kind', (b) => ({ v: b.v, cache: { k: new Uint16Array(64), v: Float16ArrayOr(64), slots: 0, dtype: 'f16' } }), /cache\.v must be the same kind of array as cache\.k|cache\.dtype 'f16' does not match cache\.v/],
    ['a slot past the cache', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: Int32Array.from([0, 4, 1]) } }), /cache\.slots\[1\] is 4: a slot in \[0, 4\) \(the cache's slots\), or -1 to skip the token/],
    ['a slot below -1', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: Int32Array.from([-2, 0, 1]) } }), /cache\.slots\[0\] is -2/],
    ['duplicate slots', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: Int32Array.from([1, 2, 1]) } }), /cache\.slots\[0\] and cache\.slots\[2\] are both 1: each slot takes at most one token/],
    ['one slot per token', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: Int32Array.from([0, 1]) } }), /cache\.slots\.length 2 does not match the call's 3 tokens/],
    ['a run past the end', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: 2 } }), /cache\.slots 2: tokens 3 need slots 2\.\.4, but the cache holds 4 slots/],
    ['slots as number[]', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: [0, 1, 2] } }), /cache\.slots must be an Int32Array .* or a number/],
    ['a cache that is not whole rows', (b) => ({ v: b.v, cache: { k: new Float32Array(67), v: new Float32Array(67), slots: 0 } }), /cache\.k\.length 67 is not a positive multiple of kHeads\*headDim = 16/],
    ['caches of different sizes', (b) => ({ v: b.v, cache: { k: b.kc, v: new Float32Array(80), slots: 0 } }), /cache\.v\.length 80 differs from cache\.k\.length 64/],
    ['an unknown cache layout', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: 0, layout: 'NHD' } }), /cache\.layout must be 'nhd' .* or 'hnd'/],
    ['v not shaped like k', (b) => ({ v: b.v.subarray(16), cache: { k: b.kc, v: b.vc, slots: 0 } }), /v\.length 32 does not match k: v holds the same 3 tokens of kHeads\*headDim = 16 as k/],
    ['a batched layout', (b) => ({ layout: 'bshd', v: b.v, cache: { k: b.kc, v: b.vc, slots: 0 } }), /cache needs layout 'shd' \(one batch row\), got layout 'bshd'/],
    ['cache.k in k\'s memory', (b) => {
      const kc = new Float32Array(b.buf, 0, 64);
      return { k: new Float32Array(b.buf, 200, 48), v: b.v, cache: { k: kc, v: b.vc, slots: 0 } };
    }, /cache\.k shares memory with k: the cache must be separate from q, k, v and positions/],
    ['cache.v in q\'s memory', (b) => ({ q: new Float32Array(b.buf, 0, 96), v: b.v, cache: { k: b.kc, v: new Float32Array(b.buf, 256, 64), slots: 0 } }), /cache\.v shares memory with q/],
    ['cache.k and cache.v overlapping', (b) => ({ v: b.v, cache: { k: new Float32Array(b.buf, 0, 64), v: new Float32Array(b.buf, 128, 64), slots: 0 } }), /cache\.k and cache\.v share memory/],
    ['positions in the cache\'s memory', (b) => ({ positions: new Int32Array(b.buf, 1024, 3), v: b.v, cache: { k: new Float32Array(b.buf, 1000, 64), v: b.vc, slots: 0 } }), /cache\.k shares memory with positions/],
    ['v overlapping q\'s rotated rows', (b) => ({ q: new Float32Array(b.buf, 0, 96), v: new Float32Array(b.buf, 320, 48), cache: { k: b.kc, v: b.vc, slots: 0 } }), /q and v overlap/],
    ['v of another dtype', (b) => ({ v: new Uint16Array(48), cache: { k: b.kc, v: b.vc, slots: 0 } }), /dtype is required for a Uint16Array v/],
    // Other kinds with the right bytes (the binding's decode step reads bytes; the JS layer tests kinds)
    ['cache arrays of another kind', (b) => ({ v: b.v, cache: { k: new Int32Array(64), v: new Int32Array(64), slots: 0 } }), /cache\.k must be a Float32Array \(f32\), a Uint16Array \(f16\/bf16 bits, with cache\.dtype\) or a Float16Array, got a Int32Array/],
    ['cache.v of another kind, same bytes', (b) => ({ v: b.v, cache: { k: b.kc, v: new Int32Array(64), slots: 0 } }), /cache\.v must be a Float32Array .*, got a Int32Array/],
    ['cache arrays as bytes', (b) => ({ v: b.v, cache: { k: new Uint8Array(256), v: new Uint8Array(256), slots: 0 } }), /cache\.k must be a Float32Array .*, got a Uint8Array/],
    ['v of another kind, same bytes', (b) => ({ v: new Int32Array(48), cache: { k: b.kc, v: b.vc, slots: 0 } }), /v must be a Float32Array \(f32\), a Uint16Array \(f16\/bf16 bits\) or a Float16Array, got a Int32Array/],
    ['v as a DataView', (b) => ({ v: new DataView(new ArrayBuffer(192)), cache: { k: b.kc, v: b.vc, slots: 0 } }), /v must be a Float32Array .*, got a DataView/],
    ['slots as a Uint32Array', (b) => ({ v: b.v, cache: { k: b.kc, v: b.vc, slots: Uint32Array.from([0, 1, 2]) } }), /cache\.slots must be an Int32Array .* or a number .*, got a Uint32Array/],
    ['cache.k in k\'s SharedArrayBuffer', (b) => {
      const sab = new SharedArrayBuffer(1024);
      return { k: new Float32Array(sab, 0, 48), v: b.v, cache: { k: new Float32Array(sab, 128, 64), v: b.vc, slots: 1 } };
    }, /cache\.k shares memory with k/],
  ];
  for (const [name, edit, message] of cases) {
    it(name, () => {
      const b = base();
      const e = edit(b);
      const q = (e.q as Float32Array) ?? b.q;
      const k = (e.k as Float32Array) ?? b.k;
      delete e.q;
      delete e.k;
      const arrays = [q, k, b.v, b.kc, b.vc, new Uint8Array(b.buf), e.v, (e.cache as { k?: unknown })?.k, (e.cache as { v?: unknown })?.v].filter((a) => ArrayBuffer.isView(a)) as ArrayBufferView[];
      const before = arrays.map((a) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));
      const rope = createRope({ headDim: D }, engine);
      expect(() => rope.applyQK(q, k, { qHeads: 4, kHeads: 2, positions: 5, ...e } as never)).toThrow(message);
      arrays.forEach((a, i) => expect(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), `array ${i}`).toEqual(before[i]));
    });
  }
});

// (a Uint16Array stands in where this Node has no Float16Array)
function Float16ArrayOr(n: number): unknown {
  const F = (globalThis as { Float16Array?: new (n: number) => unknown }).Float16Array;
  return F ? new F(n) : new Float32Array(n);
}


describe('options are read once', () => {
  it('each key of the options and of the cache object is read once, on the decode path too', () => {
    for (const engine of ENGINES) {
      const reads: Record<string, number> = {};
      const counted = <T extends object>(o: T, prefix: string): T =>
        new Proxy(o, { get: (t, key, r) => ((reads[prefix + String(key)] = (reads[prefix + String(key)] ?? 0) + 1), Reflect.get(t, key, r)) });
      const cache = counted({ k: new Float32Array(32), v: new Float32Array(32), slots: 1, layout: 'nhd' as const }, 'cache.');
      const opts = counted({ qHeads: 2, kHeads: 2, positions: 3, v: new Float32Array(16), cache }, '');
      createRope({ headDim: 8 }, engine).applyQK(new Float32Array(16), new Float32Array(16), opts);
      for (const key of ['qHeads', 'kHeads', 'positions', 'v', 'cache', 'cache.k', 'cache.v', 'cache.slots', 'cache.layout', 'cache.dtype']) {
        expect(reads[key] ?? 0, `${engine}: ${key}`).toBeLessThanOrEqual(1);
      }
      expect(reads['cache.k'], engine).toBe(1);
    }
  });
});
