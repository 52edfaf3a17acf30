// rope.prepare(): a step's applyQK(q, k, positions) gives the same bytes as the plain
// applyQK(q, k, { ...options, positions }) on random calls (dtypes, styles, partial rotary, M-RoPE,
// threads, inverse, positions as a number, an Int32Array, a number[]), on the native and JS engines,
// and refuses what the plain call refuses, with the same error, writing nothing.
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createRope, Rope } from '../../lib/rope.js';
import { rng } from '../helpers/engine-ref.js';
import { nativeAddon } from '../../lib/backend.js';
import { loadAddon } from '../helpers/addon.js';

// (the facade's addon: a run forcing ROPE_SIMD_BACKEND=js or wasm has no native engine to prepare)
const native = nativeAddon !== null;
const engines = native ? (['native', 'js'] as const) : (['js'] as const);

const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function tensor(n: number, dtype: string, r: () => number): Float32Array | Uint16Array {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = r() * 2 - 1;
  return dtype === 'f32' ? f : Uint16Array.from(new Uint32Array(f.buffer), (b) => b >>> 16);
}

const arbCall = fc.record({
  headDim: fc.integer({ min: 1, max: 40 }).map((h) => 2 * h),
  rotaryFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  style: fc.constantFrom('half' as const, 'interleaved' as const),
  dtype: fc.constantFrom('f32' as const, 'f16' as const, 'bf16' as const, undefined),
  tokens: fc.integer({ min: 1, max: 20 }),
  qHeads: fc.integer({ min: 1, max: 5 }),
  kHeads: fc.integer({ min: 1, max: 3 }),
  positions: fc.constantFrom('number' as const, 'int32' as const, 'array' as const),
  mrope: fc.boolean(),
  threads: fc.constantFrom(undefined, 1, 2, 'auto' as const),
  inverse: fc.constantFrom(undefined, false, true),
  start: fc.integer({ min: 0, max: 1 << 20 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

describe.each(engines)('rope.prepare (%s engine)', (engine) => {
  it('step.applyQK gives the bytes of the plain applyQK (random calls)', () => {
    fc.assert(
      fc.property(arbCall, (c) => {
        const rotaryDim = Math.max(2, 2 * Math.round((c.rotaryFrac * c.headDim) / 2));
        const half = rotaryDim / 2;
        const mrope = c.mrope && half >= 3;
        const section = mrope ? [half - 2, 1, 1] : undefined;
        const rope = createRope({ headDim: c.headDim, rotaryDim, style: c.style, base: 10000, mropeSection: section }, engine);
        const rows = mrope ? 3 : 1;
        const r = rng(c.seed);
        const dt = c.dtype ?? 'f32';
        const q = tensor(c.tokens * c.qHeads * c.headDim, dt, r);
        const k = tensor(c.tokens * c.kHeads * c.headDim, dt, r);
        const list = Array.from({ length: rows * c.tokens }, (_, i) => c.start + ((i * 7919) % 5000));
        const positions = c.positions === 'number' ? c.start : c.positions === 'int32' ? Int32Array.from(list) : list;
        if (dt !== 'f32' && c.dtype === undefined) return; // a Uint16Array needs its dtype
        const options = { qHeads: c.qHeads, kHeads: c.kHeads, dtype: c.dtype, threads: c.threads, inverse: c.inverse };
        const q2 = q.slice();
        const k2 = k.slice();
        rope.applyQK(q as Float32Array, k as Float32Array, { ...options, positions } as never);
        const step = rope.prepare(options);
        step.applyQK(q2 as Float32Array, k2 as Float32Array, positions);
        expect(bytes(q2).equals(bytes(q))).toBe(true);
        expect(bytes(k2).equals(bytes(k))).toBe(true);
        // and again (the native step's cached cos/sin rows now hit)
        rope.applyQK(q as Float32Array, k as Float32Array, { ...options, positions } as never);
        step.applyQK(q2 as Float32Array, k2 as Float32Array, positions);
        expect(bytes(q2).equals(bytes(q))).toBe(true);
        expect(bytes(k2).equals(bytes(k))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses what the plain call refuses, with its error, writing nothing', () => {
    const rope = createRope({ headDim: 8 }, engine);
    const step = rope.prepare({ qHeads: 2, kHeads: 1 });
    const shared = new Float32Array(64).fill(0.25);
    const cases: [unknown, unknown, unknown][] = [
      [new Float32Array(15), new Float32Array(8), 0], // q.length not a multiple of qHeads*headDim
      [new Float32Array(16), new Float32Array(16), 0], // k holds 2 tokens, q 1
      [new Uint16Array(16), new Float32Array(8), 0], // dtype mismatch
      [new Float32Array(16), new Float32Array(8), -1],
      [new Float32Array(16), new Float32Array(8), 2 ** 31],
      [new Float32Array(16), new Float32Array(8), 1.5],
      [new Float32Array(16), new Float32Array(8), new Int32Array([-3])],
      [new Float32Array(16), new Float32Array(8), new Int32Array([1, 2])],
      [new Float32Array(16), new Float32Array(8), new Float64Array([1])],
      [new Float32Array(16), new Float32Array(8), undefined],
      [new Float32Array(16), null, 0],
      [shared.subarray(0, 16), shared.subarray(8, 16), 0], // overlapping views
      [shared.subarray(0, 16), shared.subarray(0, 8), 0],
      [shared.subarray(32, 48), new Float32Array(8), new Int32Array(shared.buffer, 36 * 4, 1)], // positions inside q
      // Other kinds with the bytes of the right ones (the binding's step reads bytes, the JS layer tests kinds)
      [new Int32Array(16), new Float32Array(8), 0],
      [new Float32Array(16), new Uint32Array(8), 0],
      [new Float32Array(16), new DataView(new ArrayBuffer(32)), 0],
      [new Uint8Array(64), new Float32Array(8), 0],
      [new Float32Array(16), new Float32Array(8), new Uint32Array([1])],
      [new Float32Array(16), new Float32Array(8), new Float32Array([1])],
    ];
    for (const [q, k, p] of cases) {
      const before = [q, k, p].map((a) => (ArrayBuffer.isView(a) ? Buffer.from(bytes(a)) : null));
      let plainError: unknown = null;
      try {
        rope.applyQK(q as Float32Array, k as Float32Array, { qHeads: 2, kHeads: 1, positions: p as number });
      } catch (e) {
        plainError = e;
      }
      // (plain calls that went through changed the arrays: compare the step against a fresh copy)
      const q2 = ArrayBuffer.isView(q) ? (q as Float32Array).slice() : q;
      let stepError: unknown = null;
      try {
        step.applyQK(q as Float32Array, k as Float32Array, p as number);
      } catch (e) {
        stepError = e;
      }
      expect(plainError, `case ${String(p)}`).not.toBeNull();
      expect(stepError).toBeInstanceOf((plainError as Error).constructor);
      expect((stepError as Error).message).toBe((plainError as Error).message);
      [q, k, p].forEach((a, i) => {
        if (before[i]) expect(bytes(a as ArrayBufferView).equals(before[i]!)).toBe(true);
      });
      void q2;
    }
  });

  it('checks its options', () => {
    const rope = createRope({ headDim: 8 }, engine);
    expect(() => rope.prepare(null as never)).toThrow(TypeError);
    expect(() => rope.prepare({ qHeads: 0, kHeads: 1 })).toThrow(/qHeads must be a positive integer/);
    expect(() => rope.prepare({ qHeads: 1 } as never)).toThrow(/kHeads must be a positive integer/);
    expect(() => rope.prepare({ qHeads: 1, kHeads: 1, dtype: 'f64' as never })).toThrow(/dtype must be/);
    expect(() => rope.prepare({ qHeads: 1, kHeads: 1, threads: 0 })).toThrow(/threads must be/);
    expect(() => rope.prepare({ qHeads: 1, kHeads: 1, inverse: 1 as never })).toThrow(/inverse must be a boolean/);
    expect(() => rope.prepare({ qHeads: 1, kHeads: 1, layout: 'bhsd' } as never)).toThrow(/does not take 'layout'/);
    expect(rope.prepare({ qHeads: 1, kHeads: 2, dtype: 'bf16' }).options).toEqual({ qHeads: 1, kHeads: 2, dtype: 'bf16' });
  });
});

// (the default engine: native where it loads, so the binding's step; under ROPE_SIMD_BACKEND=js or
// wasm the plain path, which must give the same bytes all the same)
describe('rope.prepare on the default engine', () => {
  it('gives the plain call\'s bytes in the decode case (number[] positions take the plain path)', () => {
    const rope = new Rope({ headDim: 64 });
    const step = rope.prepare({ qHeads: 4, kHeads: 2 });
    const q = new Float32Array(4 * 64).fill(1);
    const k = new Float32Array(2 * 64).fill(1);
    step.applyQK(q, k, 5);
    const q2 = new Float32Array(4 * 64).fill(1);
    const k2 = new Float32Array(2 * 64).fill(1);
    rope.applyQK(q2, k2, { qHeads: 4, kHeads: 2, positions: [5] });
    expect(bytes(q).equals(bytes(q2))).toBe(true);
    expect(bytes(k).equals(bytes(k2))).toBe(true);
  });

  it('many steps on one Rope (past the binding slots) still work', () => {
    const rope = new Rope({ headDim: 8 });
    for (let h = 1; h <= 80; h++) {
      const step = rope.prepare({ qHeads: h, kHeads: 1 });
      const q = new Float32Array(h * 8).fill(0.5);
      const k = new Float32Array(8).fill(0.5);
      const q2 = q.slice();
      const k2 = k.slice();
      step.applyQK(q, k, 3);
      rope.applyQK(q2, k2, { qHeads: h, kHeads: 1, positions: 3 });
      expect(bytes(q).equals(bytes(q2))).toBe(true);
      expect(bytes(k).equals(bytes(k2))).toBe(true);
    }
  });
});

describe("the binding's step function, called directly with anything (the addon loaded directly, whatever backend the run forces)", () => {
  type StepFnRaw = (...args: unknown[]) => unknown;
  type Handle = { prepareStep(...args: unknown[]): StepFnRaw | null };
  const addon = loadAddon<{ NativeRope: new (...a: unknown[]) => Handle }>();
  const D = 8;
  const invFreq = Float64Array.from({ length: D / 2 }, (_, j) => 10000 ** (-(2 * j) / D));

  it('answers false (writing nothing) to everything but its fast case, never crashes', () => {
    const h = new addon.NativeRope(D, D, 0, null, 1);
    const step = h.prepareStep(invFreq, 1, 0, 2, 0, 1, 1, 0)!;
    expect(typeof step).toBe('function');
    const q = new Float32Array(16).fill(0.5);
    const k = new Float32Array(8).fill(0.5);
    const detached = new Float32Array(16);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    const weird: unknown[][] = [
      [],
      [q],
      [q, k],
      [q, k, undefined],
      [q, k, null],
      [q, k, '3'],
      [q, k, NaN],
      [q, k, Infinity],
      [q, k, -0.5],
      [q, k, 2 ** 31 - 1 + 0.5],
      [q, k, 2 ** 31],
      [q, k, new Int32Array(0)],
      [q, k, new Int32Array([-1])],
      [q, k, { length: 1, 0: 1 }],
      [k, q, 0], // q holds half a token of 2 heads
      [new Uint16Array(16), new Uint16Array(8), 0],
      [detached, k, 0],
      [q, q, 0],
      [new Proxy(q, {}), k, 0],
      [{}, k, 0],
      [null, null, null],
      [new Uint8Array(new ArrayBuffer(68), 1, 64), k, 0], // not 4-byte aligned
      [new Uint8Array(63), k, 0], // not whole floats
      [q, new DataView(new ArrayBuffer(32)), 0], // not a typed array
      [new DataView(q.buffer), k, 0],
    ];
    for (const args of weird) {
      const before = [Buffer.from(q.buffer.slice(0)), Buffer.from(k.buffer.slice(0))];
      expect(step(...args), `args ${args.length}`).toBe(false);
      expect(Buffer.from(q.buffer).equals(before[0])).toBe(true);
      expect(Buffer.from(k.buffer).equals(before[1])).toBe(true);
    }
    // (4 to 7 arguments are neither form: declined)
    for (let n = 4; n < 8; n++) expect(step(q, k, 0, ...Array(n - 3).fill(undefined)), `${n} arguments`).toBe(false);
    expect(step(q, k, 0)).toBe(true);
    expect(step(q, k, new Int32Array([9]))).toBe(true);
  });

  // The step proves memory by bytes (native/binding/args.h bytesView: a typed array's whole
  // aligned elements of the step's dtypes), not by the arrays' kinds, which the JS layer tests
  // before calling it ('refuses what the plain call refuses' above). An array of another kind
  // with such bytes is rotated as its bytes, and no byte outside the arrays it was given changes.
  it('writes only inside the arrays it is given, whatever their kind', () => {
    const h = new addon.NativeRope(D, D, 0, null, 1);
    const step = h.prepareStep(invFreq, 1, 0, 2, 0, 1, 1, 0)!;
    const buf = new ArrayBuffer(4096);
    const all = new Uint8Array(buf).fill(0x3e);
    const cases: Array<[string, unknown[], Array<[number, number]>]> = [
      ['Uint32Array positions', [new Float32Array(buf, 64, 16), new Float32Array(buf, 256, 8), new Uint32Array(buf, 512, 1)], [[64, 128], [256, 288]]],
      ['Uint8Array q', [new Uint8Array(buf, 64, 64), new Float32Array(buf, 256, 8), 5], [[64, 128], [256, 288]]],
      ['Uint16Array k', [new Float32Array(buf, 64, 16), new Uint16Array(buf, 256, 16), 5], [[64, 128], [256, 288]]],
      ['Int32Array k', [new Float32Array(buf, 64, 16), new Int32Array(buf, 256, 8), 5], [[64, 128], [256, 288]]],
    ];
    for (const [name, args, spans] of cases) {
      all.fill(0x3e);
      expect(step(...args), name).toBe(true);
      const outside = Array.from(all).filter((_, i) => !spans.some(([a, b]) => i >= a && i < b));
      expect(outside.every((x) => x === 0x3e), name).toBe(true);
      expect(spans.every(([a, b]) => all.subarray(a, b).some((x) => x !== 0x3e)), name).toBe(true);
    }
  });

  it('answers false (writing nothing) to every cache call but its fast case, never crashes', () => {
    const h = new addon.NativeRope(D, D, 0, null, 1);
    const step = h.prepareStep(invFreq, 1, 0, 2, 0, 1, 1, 0)!;
    expect((step as unknown as { takesCache: unknown }).takesCache).toBe(true);
    const buf = new ArrayBuffer(4096);
    const q = new Float32Array(buf, 0, 16).fill(0.5); // 1 token of 2 heads
    const k = new Float32Array(buf, 64, 8).fill(0.25);
    const v = new Float32Array(buf, 96, 8).fill(0.125);
    const kc = new Float32Array(buf, 1024, 32).fill(-1); // 4 slots
    const vc = new Float32Array(buf, 2048, 32).fill(-2);
    const u16 = new Uint16Array(32);
    const detached = new Float32Array(32);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    const weird: unknown[][] = [
      [v, kc, vc, 0, 7], // code 7: not a dtype | layout
      [v, kc, vc, 0, 3],
      [v, kc, vc, 0, -1],
      [v, kc, vc, 0, 0.5],
      [v, kc, vc, 0, '0'],
      [v, u16, u16, 0, 0], // f32 code, Uint16Array caches
      [v, kc, vc, 4, 0], // the run ends past the cache
      [v, kc, vc, -1, 0],
      [v, kc, vc, 0.5, 0],
      [v, kc, vc, NaN, 0],
      [v, kc, vc, Int32Array.of(4), 0],
      [v, kc, vc, Int32Array.of(-2), 0],
      [v, kc, vc, Int32Array.of(0, 1), 0], // one slot per token
      [v, kc, vc, [0], 0],
      [v, kc, vc, null, 0],
      [v, kc, undefined, 0, 0], // v without its cache
      [undefined, kc, vc, 0, 0], // a v cache without v
      [v, kc, new Float32Array(40), 0, 0], // caches of two sizes
      [v, new Float32Array(30), new Float32Array(30), 0, 0], // not whole rows
      [v, detached, vc, 0, 0],
      [v, kc, detached, 0, 0],
      [new Float32Array(buf, 96, 16), kc, vc, 0, 0], // v not k's twin
      [new Uint16Array(8), kc, vc, 0, 0],
      [v, kc, kc, 0, 0], // the caches share memory
      [v, new Float32Array(buf, 0, 32), vc, 0, 0], // cache.k over q
      [v, new Float32Array(buf, 64, 32), vc, 0, 0], // over k
      [v, kc, new Float32Array(buf, 96, 32), 0, 0], // cache.v over v
      [new Float32Array(buf, 32, 8), kc, vc, 0, 0], // v inside q (read while q is rotated)
      [new Proxy(v, {}), kc, vc, 0, 0],
      [v, {}, vc, 0, 0],
      [v, new Float32Array(buf, 1024, 31), vc, 0, 0], // not whole rows (odd f16 elements are whole)
      [v, new Uint8Array(buf, 1025, 128), new Uint8Array(buf, 2049, 128), 0, 1], // f16 rows not 2-byte aligned
      [new Uint8Array(buf, 97, 32), kc, vc, 0, 0], // v not 4-byte aligned
    ];
    const all = new Uint8Array(buf);
    for (const [i, args] of weird.entries()) {
      const before = all.slice();
      expect(step(q, k, 3, ...args), `case ${i}`).toBe(false);
      expect(Buffer.from(all).equals(Buffer.from(before))).toBe(true);
    }
    // positions inside a cache
    const posInCache = new Int32Array(buf, 1024, 1);
    const before = all.slice();
    expect(step(q, k, posInCache, v, kc, vc, 0, 0)).toBe(false);
    expect(Buffer.from(all).equals(Buffer.from(before))).toBe(true);
    // the fast case: q rotated, k's rotation and v in slot 2, k and v unchanged, no other cache byte
    expect(step(q, k, 3, v, kc, vc, 2, 0)).toBe(true);
    expect(Array.from(k)).toEqual(Array(8).fill(0.25));
    expect(Array.from(v)).toEqual(Array(8).fill(0.125));
    expect(Array.from(vc.subarray(16, 24))).toEqual(Array(8).fill(0.125));
    expect(kc[16]).not.toBe(-1);
    expect([...kc.subarray(0, 16), ...kc.subarray(24)].every((x) => x === -1)).toBe(true);
    expect([...vc.subarray(0, 16), ...vc.subarray(24)].every((x) => x === -2)).toBe(true);
    expect(q[0]).not.toBe(0.5);
    // k only, and slots as an Int32Array with -1 (q rotated, nothing cached)
    expect(step(q, k, 3, undefined, kc, undefined, Int32Array.of(-1), 0)).toBe(true);
  });

  it('refuses a bad configuration with a clear error', () => {
    const h = new addon.NativeRope(D, D, 0, null, 1);
    expect(() => h.prepareStep(invFreq, 1, 0, 2, 0, 1, 1)).toThrow(/expected 8 arguments/);
    expect(() => h.prepareStep(new Float64Array(3), 1, 0, 2, 0, 1, 1, 0)).toThrow(/invFreq.length 3 is not rotaryDim\/2 = 4/);
    expect(() => h.prepareStep(Float64Array.of(1, NaN, 1, 1), 1, 0, 2, 0, 1, 1, 0)).toThrow(/invFreq\[1\] must be finite/);
    expect(() => h.prepareStep(invFreq, Infinity, 0, 2, 0, 1, 1, 0)).toThrow(/attentionScaling must be finite/);
    expect(() => h.prepareStep(invFreq, 1, 3, 2, 0, 1, 1, 0)).toThrow(/qDtype 3 is out of range/);
    expect(() => h.prepareStep(invFreq, 1, 0, 0, 0, 1, 1, 0)).toThrow(/qHeads 0 is out of range/);
    expect(() => h.prepareStep(invFreq, 1, 0, 1, 0, 1, 1025, 0)).toThrow(/threads 1025 is out of range/);
    expect(() => h.prepareStep(invFreq, 1, 0, 1, 0, 1, 1, 2)).toThrow(/inverse 2 is out of range/);
  });

  it('keeps its NativeRope alive: a step outliving every other reference still works', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let step: StepFnRaw | null = new addon.NativeRope(D, D, 0, null, 1).prepareStep(invFreq, 1, 0, 1, 0, 1, 1, 0);
    for (let i = 0; i < 3; i++) gc();
    const q = new Float32Array(8).fill(0.5);
    expect(step!(q, new Float32Array(8).fill(0.5), 1)).toBe(true);
    expect(q[0]).not.toBe(0.5);
    step = null;
    gc();
  });
});
