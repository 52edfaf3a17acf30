// applyQK's cache option on every engine: the rotated k and the unrotated v land in the cache rows
// named by slots, in the cache's dtype, rounded once from the exact rotation, against an
// independent reference (test/helpers/cache-ref.ts: BigInt sums, its own rounding and encoders);
// q rotated as without a cache; k, v and every other cache byte unchanged; refusals write nothing.
import { describe, expect, it, vi } from 'vitest';
import { nativeAddon } from '../../lib/backend.js';
import { CacheWriter } from '../../lib/engine-js-cache.js';
import { createRope, type Rope } from '../../lib/rope.js';
import type { DTypeName, RopeOptions } from '../../lib/types.js';
import { decode, encode, rotatedValue, rowCosSin, roundDouble, type Fmt } from '../helpers/cache-ref.js';
import { rng } from '../helpers/engine-ref.js';

const warn = vi.spyOn(process, 'emitWarning');

const ENGINES: ('js' | 'wasm' | 'native')[] = ['js'];
try {
  createRope({ headDim: 2 }, 'wasm');
  ENGINES.push('wasm');
} catch {
  // (no WebAssembly SIMD here: the wasm engine is tested where it runs)
}
if (nativeAddon) ENGINES.push('native');

type Arr = Float32Array | Uint16Array;
const make = (fmt: Fmt, n: number): Arr => (fmt === 'f32' ? new Float32Array(n) : new Uint16Array(n));
const bitsOf = (a: Arr): Uint32Array | Uint16Array => (a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a);
const GUARD: Record<Fmt, number> = { f32: 0x7fa5a5a5, f16: 0x7d5a, bf16: 0x7f9a };

interface Setup {
  opts: RopeOptions;
  kFmt: Fmt;
  cFmt: Fmt;
  hnd: boolean;
  tokens: number;
  qHeads: number;
  kHeads: number;
  slotCount: number;
  slots: Int32Array | number;
  positions: Int32Array;
  inverse?: boolean;
  hard?: boolean;
  /** The caches as views this many elements into larger arrays (guards around them). */
  cacheOffset?: number;
  threads?: number;
}

/** Random finite values of fmt (bits for 16-bit), magnitudes 2^-6..4. */
function fill(a: Arr, fmt: Fmt, r: () => number): void {
  for (let i = 0; i < a.length; i++) {
    const v = (r() * 2 - 1) * 2 ** Math.floor(r() * 8 - 6);
    a[i] = fmt === 'f32' ? v : encode(roundDouble(v, fmt), fmt);
  }
}

function invFreqOf(rope: Rope): Float64Array {
  return rope.invFreq;
}

// Pairs (x, y) of f32 whose rotation lands, rounded to f32 first, exactly on a midpoint of cFmt
// (16-bit) or whose float64 difference lands on an f32 midpoint (f32 cache): where a second
// rounding goes wrong.
function hardPair(c: number, s: number, cFmt: Fmt, r: () => number): [number, number] {
  for (let tries = 0; tries < 100000; tries++) {
    if (cFmt === 'f32') {
      const x = Math.fround((r() + 0.5) * (r() < 0.5 ? -1 : 1));
      const xc = x * c;
      const lo = Math.fround(xc), other = Math.fround(xc + (xc - lo));
      const m = (lo + other) / 2; // nearest f32 midpoint (other: lo's neighbour toward xc)
      const eps = xc - m;
      if (lo === other || Math.abs(eps) > Math.abs(m) * 2 ** -30 || eps === 0) continue;
      const y = Math.fround(eps / s);
      const p = Math.fround(y * s);
      if (xc - p !== m || Math.fround(xc - p) === m) continue;
      return [x, y];
    }
    // 16-bit: a midpoint m of cFmt, then x with x*c - y*s within half an f32 ulp of it
    const mant = cFmt === 'f16' ? 10 : 7;
    const e = Math.floor(r() * 4) - 2;
    const m = (1 + (Math.floor(r() * 2 ** mant) + 0.5) / 2 ** mant) * 2 ** e * (r() < 0.5 ? -1 : 1);
    const y = Math.fround(r() * 2 - 1);
    const x = Math.fround((m + y * s) / c);
    const d = x * c - y * s;
    if (d !== m && Math.fround(d) === m) return [x, y];
  }
  throw new Error('no hard pair found');
}

interface Ran {
  q: Arr; k: Arr; v: Arr; kc: Arr; vc: Arr; kcAll: Arr; vcAll: Arr; q0: Arr; k0: Arr; v0: Arr; rope: Rope; opts: Record<string, unknown>;
}

const VIEW_PAD = 40; // guard elements after a cache view (cacheOffset: before it)

function prepare(engine: 'js' | 'wasm' | 'native', s: Setup, seed: number): Ran {
  const rope = createRope(s.opts, engine);
  const D = s.opts.headDim;
  const r = rng(seed);
  const q = make(s.kFmt, s.tokens * s.qHeads * D), k = make(s.kFmt, s.tokens * s.kHeads * D), v = make(s.kFmt, s.tokens * s.kHeads * D);
  fill(q, s.kFmt, r);
  fill(k, s.kFmt, r);
  fill(v, s.kFmt, r);
  if (s.hard && s.kFmt === 'f32') {
    // token 0, head 0, pair 0 and token 1, last head, pair 1 (half style: second at +rotaryDim/2)
    const rd = rope.rotaryDim, half = rd / 2, il = s.opts.style === 'interleaved';
    const f = invFreqOf(rope);
    for (const [t, h, j] of [[0, 0, 0], [1, s.kHeads - 1, 1]]) {
      const [c, sn] = rowCosSin(s.positions[t], f[j], s.inverse === true);
      const [x, y] = hardPair(c, sn, s.cFmt, r);
      const at = (t * s.kHeads + h) * D;
      k[at + (il ? 2 * j : j)] = x;
      k[at + (il ? 2 * j + 1 : half + j)] = y;
    }
  }
  const n = s.slotCount * s.kHeads * D, at = s.cacheOffset ?? 0;
  const kcAll = make(s.cFmt, at + n + (at > 0 ? VIEW_PAD : 0));
  const vcAll = make(s.cFmt, at + n + (at > 0 ? VIEW_PAD : 0));
  bitsOf(kcAll).fill(GUARD[s.cFmt]);
  bitsOf(vcAll).fill(GUARD[s.cFmt]);
  const kc = kcAll.subarray(at, at + n), vc = vcAll.subarray(at, at + n);
  const dtype = s.kFmt === 'f32' ? undefined : (s.kFmt as DTypeName);
  const cache: Record<string, unknown> = { k: kc, v: vc, slots: s.slots, layout: s.hnd ? 'hnd' : 'nhd' };
  if (s.cFmt !== 'f32') cache.dtype = s.cFmt;
  const opts: Record<string, unknown> = { qHeads: s.qHeads, kHeads: s.kHeads, positions: s.positions, v, cache };
  if (dtype !== undefined) opts.dtype = dtype;
  if (s.inverse) opts.inverse = true;
  if (s.threads !== undefined) opts.threads = s.threads;
  return { q, k, v, kc, vc, kcAll, vcAll, q0: q.slice(), k0: k.slice(), v0: v.slice(), rope, opts };
}

/** The cache as the reference says it must be (guards where nothing is written). */
function expected(s: Setup, r: Ran): { k: number[]; v: number[] } {
  const D = s.opts.headDim;
  const rd = r.rope.rotaryDim, half = rd / 2, il = s.opts.style === 'interleaved';
  const f = invFreqOf(r.rope);
  const sections = s.opts.mropeSection;
  const n = s.slotCount * s.kHeads * D;
  const kw = new Array<number>(n).fill(GUARD[s.cFmt]);
  const vw = new Array<number>(n).fill(GUARD[s.cFmt]);
  const conv = (bits: number): number => (s.kFmt === s.cFmt ? bits : encode(roundDouble(decode(bits, s.kFmt), s.cFmt), s.cFmt));
  const kb = bitsOf(r.k0), vb = bitsOf(r.v0);
  for (let t = 0; t < s.tokens; t++) {
    const slot = typeof s.slots === 'number' ? s.slots + t : s.slots[t];
    if (slot < 0) continue;
    for (let h = 0; h < s.kHeads; h++) {
      const src = (t * s.kHeads + h) * D;
      const dst = s.hnd ? (h * s.slotCount + slot) * D : (slot * s.kHeads + h) * D;
      for (let d = 0; d < D; d++) {
        vw[dst + d] = conv(vb[src + d]);
        if (d >= rd) kw[dst + d] = conv(kb[src + d]);
      }
      for (let j = 0; j < half; j++) {
        // M-RoPE (blocks): pair j reads the positions row of its section
        let row = 0;
        if (sections) for (let acc = sections[0]; j >= acc; acc += sections[++row]);
        const [c, sn] = rowCosSin(s.positions[row * s.tokens + t], f[j], s.inverse === true);
        const ix = il ? 2 * j : j, iy = il ? 2 * j + 1 : half + j;
        const x = decode(kb[src + ix], s.kFmt), y = decode(kb[src + iy], s.kFmt);
        kw[dst + ix] = encode(rotatedValue(x, y, c, sn, -1, s.kFmt, s.cFmt), s.cFmt);
        kw[dst + iy] = encode(rotatedValue(y, x, c, sn, 1, s.kFmt, s.cFmt), s.cFmt);
      }
    }
  }
  return { k: kw, v: vw };
}

function check(engine: 'js' | 'wasm' | 'native', s: Setup, seed = 1): void {
  const r = prepare(engine, s, seed);
  r.rope.applyQK(r.q as Float32Array, r.k as Float32Array, r.opts as never);
  const want = expected(s, r);
  const firstMiss = (got: ArrayLike<number>, w: number[]): string => {
    for (let i = 0; i < w.length; i++) if (got[i] !== w[i]) return `element ${i}: 0x${got[i].toString(16)}, want 0x${w[i].toString(16)}`;
    return '';
  };
  expect(firstMiss(bitsOf(r.kc), want.k), 'cache.k').toBe('');
  expect(firstMiss(bitsOf(r.vc), want.v), 'cache.v').toBe('');
  if (r.kcAll.length !== r.kc.length) {
    // around the views: untouched
    const at = s.cacheOffset ?? 0, n = r.kc.length, guard = GUARD[s.cFmt];
    for (const [all, name] of [[r.kcAll, 'cache.k'], [r.vcAll, 'cache.v']] as const) {
      const b = bitsOf(all);
      const outside = [...b.subarray(0, at), ...b.subarray(at + n)];
      expect(outside.filter((x) => x !== guard), `${name}: elements around the view`).toEqual([]);
    }
  }
  expect(firstMiss(bitsOf(r.k), Array.from(bitsOf(r.k0))), 'k unchanged').toBe('');
  expect(firstMiss(bitsOf(r.v), Array.from(bitsOf(r.v0))), 'v unchanged').toBe('');
  // q: exactly as applyQK without a cache rotates it
  const q2 = r.q0.slice(), k2 = r.k0.slice();
  const { v: _v, cache: _c, ...plain } = r.opts;
  r.rope.applyQK(q2 as Float32Array, k2 as Float32Array, plain as never);
  expect(firstMiss(bitsOf(r.q), Array.from(bitsOf(q2))), 'q').toBe('');
}

const FMTS: Fmt[] = ['f32', 'f16', 'bf16'];

describe.each(ENGINES)('cache write on the %s engine', (engine) => {
  for (const kFmt of FMTS) {
    for (const cFmt of FMTS) {
      it(`k ${kFmt} -> cache ${cFmt}: both layouts, both styles, -1 slots, partial rotary, midpoint cases`, () => {
        for (const hnd of [false, true]) {
          for (const style of ['half', 'interleaved'] as const) {
            check(engine, {
              opts: { headDim: 16, rotaryDim: 12, style, base: 10000 },
              kFmt, cFmt, hnd, tokens: 5, qHeads: 4, kHeads: 2, slotCount: 9,
              slots: Int32Array.from([7, -1, 0, 3, 8]),
              positions: Int32Array.from([3, 7, 100, 1000, 65537]),
              hard: true,
            }, 7 + (hnd ? 1 : 0));
          }
        }
      });
    }
  }

  it('number slots (a contiguous run), inverse, full rotary, many tokens', () => {
    for (const [kFmt, cFmt] of [['f32', 'bf16'], ['bf16', 'bf16'], ['f32', 'f32'], ['f16', 'f32']] as const) {
      check(engine, {
        opts: { headDim: 8 }, kFmt, cFmt, hnd: false, tokens: 40, qHeads: 2, kHeads: 2, slotCount: 50, slots: 6,
        positions: Int32Array.from({ length: 40 }, (_, i) => 2 * i + 1), inverse: true, hard: true,
      }, 3);
      check(engine, {
        opts: { headDim: 8 }, kFmt, cFmt, hnd: true, tokens: 40, qHeads: 2, kHeads: 1, slotCount: 40, slots: 0,
        positions: Int32Array.from({ length: 40 }, (_, i) => i),
      }, 4);
    }
  });

  // Past 1 MiB of cache rows the native walk streams them (non-temporal stores of whole 64-byte
  // lines, ordinary stores for the partial lines at a piece's ends: native/cache_write.h): cache
  // views starting at every 4-byte offset within a line class, runs of slots (lines completed
  // across tokens), scattered and -1 slots, 'hnd' rows, a pass-through tail, two threads.
  it('large calls (streamed cache rows): views at odd offsets, runs and scattered slots, both layouts, two threads', () => {
    const tokens = 272, kHeads = 8, headDim = 128, slotCount = 300;
    const scattered = Int32Array.from({ length: tokens }, (_, t) => (t % 7 === 3 ? -1 : (t * 263) % slotCount));
    const cases: [Fmt, Fmt, number | Int32Array, boolean, number, number][] = [
      // k, cache, slots, hnd, cacheOffset (elements), threads
      ['f32', 'f32', 5, false, 1, 1],
      ['f32', 'f32', scattered, false, 15, 2],
      ['f32', 'bf16', 0, true, 7, 2],
      ['f32', 'bf16', scattered, false, 3, 1],
      ['bf16', 'bf16', 17, false, 29, 2],
    ];
    for (const [i, [kFmt, cFmt, slots, hnd, cacheOffset, threads]] of cases.entries()) {
      check(engine, {
        opts: { headDim, rotaryDim: 16 }, kFmt, cFmt, hnd, tokens, qHeads: 1, kHeads, slotCount, slots,
        positions: Int32Array.from({ length: tokens }, (_, t) => 3 * t + 1), cacheOffset, threads,
      }, 21 + i);
    }
  });

  it('M-RoPE sections', () => {
    check(engine, {
      opts: { headDim: 16, mropeSection: [2, 3, 3] }, kFmt: 'f32', cFmt: 'bf16', hnd: false, tokens: 3, qHeads: 2, kHeads: 2,
      slotCount: 4, slots: Int32Array.from([2, 0, 1]), positions: Int32Array.from([5, 6, 7, 50, 60, 70, 500, 600, 700]),
    }, 5);
  });
});

describe('the native and wasm engines write the cache in their own kernels', () => {
  it.each(ENGINES.filter((e) => e !== 'js'))('%s: no JS cache write, no ROPE_SIMD_CACHE_JS warning', (engine) => {
    const jsWrite = vi.spyOn(CacheWriter.prototype, 'write');
    try {
      const rope = createRope({ headDim: 8 }, engine);
      const kc = new Uint16Array(4 * 8);
      rope.applyQK(new Float32Array(8), Float32Array.from({ length: 8 }, (_, i) => i + 1), { qHeads: 1, kHeads: 1, positions: 1, cache: { k: kc, slots: 2, dtype: 'bf16' } });
      expect(Array.from(kc.subarray(16, 24)).some((b) => b !== 0)).toBe(true);
      expect(jsWrite).not.toHaveBeenCalled();
    } finally {
      jsWrite.mockRestore();
    }
    const calls = warn.mock.calls.filter((c) => (c[1] as { code?: string } | undefined)?.code === 'ROPE_SIMD_CACHE_JS');
    expect(calls).toHaveLength(0);
  });
});

describe.each(ENGINES)('positions as a first position on the %s engine', (engine) => {
  it('writes what the same positions as an array write', () => {
    const rope = createRope({ headDim: 16, rotaryDim: 12 }, engine);
    const r = rng(7);
    const k = Float32Array.from({ length: 3 * 2 * 16 }, () => r() - 0.5);
    const v = Float32Array.from({ length: 3 * 2 * 16 }, () => r() - 0.5);
    const run = (positions: number | Int32Array): Uint16Array[] => {
      const kc = new Uint16Array(6 * 2 * 16), vc = new Uint16Array(6 * 2 * 16);
      rope.applyQK(new Float32Array(3 * 16), k, { qHeads: 1, kHeads: 2, positions, v, cache: { k: kc, v: vc, slots: Int32Array.from([4, -1, 1]), dtype: 'bf16', layout: 'hnd' } });
      return [kc, vc];
    };
    const a = run(1000), b = run(Int32Array.from([1000, 1001, 1002]));
    expect(a[0]).toEqual(b[0]);
    expect(a[1]).toEqual(b[1]);
    expect(a[0].some((x) => x !== 0)).toBe(true);
  });
});

describe.each(ENGINES)('async and prepared steps with a cache on the %s engine', (engine) => {
  const setup = (tokens: number) => {
    const D = 64;
    const r = rng(11);
    const q = new Float32Array(tokens * 8 * D).map(() => r() - 0.5);
    const k = new Float32Array(tokens * 2 * D).map(() => r() - 0.5);
    const v = new Float32Array(tokens * 2 * D).map(() => r() - 0.5);
    const slots = Int32Array.from({ length: tokens }, (_, i) => (i % 5 === 3 ? -1 : tokens + 7 - i));
    const cache = () => ({ k: new Uint16Array((tokens + 8) * 2 * D).fill(0x7f9a), v: new Uint16Array((tokens + 8) * 2 * D).fill(0x7f9a), slots, dtype: 'bf16' as const, layout: 'hnd' as const });
    return { rope: createRope({ headDim: D, base: 500000 }, engine), q, k, v, cache, positions: 100 };
  };

  it('applyQKAsync (in slices, past the inline size) writes what applyQK writes', async () => {
    const s = setup(256);
    const { setAsyncSliceTokens } = await import('../../lib/async.js');
    const want = s.cache();
    const q1 = s.q.slice();
    s.rope.applyQK(q1, s.k, { qHeads: 8, kHeads: 2, positions: s.positions, v: s.v, cache: want });
    setAsyncSliceTokens(37);
    try {
      const got = s.cache();
      const q2 = s.q.slice();
      await s.rope.applyQKAsync(q2, s.k, { qHeads: 8, kHeads: 2, positions: s.positions, v: s.v, cache: got });
      expect(got.k).toEqual(want.k);
      expect(got.v).toEqual(want.v);
      expect(q2).toEqual(q1);
    } finally {
      setAsyncSliceTokens(0);
    }
  });

  it('an abort between slices leaves the tokens before it rotated and cached, the rest untouched', async () => {
    const s = setup(256);
    const { setAsyncSliceTokens } = await import('../../lib/async.js');
    const want = s.cache();
    s.rope.applyQK(s.q.slice(), s.k, { qHeads: 8, kHeads: 2, positions: s.positions, v: s.v, cache: want });
    setAsyncSliceTokens(37);
    try {
      const got = s.cache();
      const ac = new AbortController();
      const p = s.rope.applyQKAsync(s.q.slice(), s.k, { qHeads: 8, kHeads: 2, positions: s.positions, v: s.v, cache: got, signal: ac.signal });
      ac.abort(); // (the first slice ran before applyQKAsync returned)
      await expect(p).rejects.toThrow(/aborted after tokens 0-36 of 256 were rotated; tokens 37-255 are unchanged/);
      const row = 64, slotsOf = got.slots, kvRow = (slot: number, h: number) => (h * (256 + 8) + slot) * row;
      for (let t = 0; t < 256; t++) {
        const slot = slotsOf[t];
        if (slot < 0) continue;
        for (let h = 0; h < 2; h++) {
          const at = kvRow(slot, h);
          const g = got.k.subarray(at, at + row), w = t < 37 ? want.k.subarray(at, at + row) : new Uint16Array(row).fill(0x7f9a);
          expect(g, `token ${t}`).toEqual(w);
        }
      }
    } finally {
      setAsyncSliceTokens(0);
    }
  });

  it('a prepared step takes { v, cache } as its fourth argument (sync and async)', async () => {
    const s = setup(1);
    const want = s.cache();
    const q1 = s.q.slice();
    s.rope.applyQK(q1, s.k, { qHeads: 8, kHeads: 2, positions: s.positions, v: s.v, cache: want });
    const step = s.rope.prepare({ qHeads: 8, kHeads: 2 });
    for (const run of [
      (q: Float32Array, c: ReturnType<typeof s.cache>) => step.applyQK(q, s.k, s.positions, { v: s.v, cache: c }),
      (q: Float32Array, c: ReturnType<typeof s.cache>) => step.applyQKAsync(q, s.k, s.positions, { v: s.v, cache: c }),
    ]) {
      const got = s.cache();
      const q2 = s.q.slice();
      await run(q2, got);
      expect(got.k).toEqual(want.k);
      expect(got.v).toEqual(want.v);
      expect(q2).toEqual(q1);
    }
    expect(() => step.applyQK(s.q, s.k, 0, { v: s.v, cache: s.cache(), slots: 1 } as never)).toThrow(/step\.applyQK does not take the option 'slots'/);
  });
});

describe.runIf(ENGINES.includes('wasm'))('wasm: caches in the module\'s memory (wasmArray)', () => {
  it('are written where they are, as ordinary arrays would be', async () => {
    const { wasmArray } = await import('../../lib/engine-wasm.js');
    const D = 64, tokens = 300;
    const r = rng(5);
    const q = new Float32Array(tokens * 8 * D).map(() => r() - 0.5);
    const k = new Float32Array(tokens * 2 * D).map(() => r() - 0.5);
    const v = new Float32Array(tokens * 2 * D).map(() => r() - 0.5);
    const rope = createRope({ headDim: D }, 'wasm');
    const want = { k: new Uint16Array(tokens * 2 * D), v: new Uint16Array(tokens * 2 * D) };
    rope.applyQK(q.slice(), k, { qHeads: 8, kHeads: 2, positions: 7, v, cache: { k: want.k, v: want.v, slots: 0, dtype: 'bf16' } });
    const kc = wasmArray(tokens * 2 * D, 'bf16'), vc = wasmArray(tokens * 2 * D, 'bf16');
    try {
      // (a fresh Rope: its cos/sin rows and q's scratch may grow the memory, which the write
      // survives by viewing the caches again; this test does not force a growth)
      createRope({ headDim: D }, 'wasm').applyQK(q.slice(), k, { qHeads: 8, kHeads: 2, positions: 7, v, cache: { k: kc.array as Uint16Array, v: vc.array as Uint16Array, slots: 0, dtype: 'bf16' } });
      expect(kc.array).toEqual(want.k);
      expect(vc.array).toEqual(want.v);
    } finally {
      kc.free();
      vc.free();
    }
  });
});

describe.runIf(ENGINES.includes('wasm'))('wasm: the cache write survives a memory growth during q\'s rotation', () => {
  it('views wasmArray caches again after the engine ran', async () => {
    const { createWasmEngine, wasmArray } = await import('../../lib/engine-wasm.js');
    const { applyWithCache, CacheWriter } = await import('../../lib/engine-js-cache.js');
    const { newCallPlan, newTensorPlan, planApplyQK } = await import('../../lib/validate.js');
    const geometry = { headDim: 8, rotaryDim: 8, style: 0 as const, pairSection: null, sectionRows: 1 };
    const engine = createWasmEngine(geometry) as ReturnType<typeof createWasmEngine> & { ownsMemory(d: unknown): boolean; rebind(d: unknown, o: number, n: number): unknown };
    // an engine that grows the module's memory while it rotates q (detaching every view of it)
    const growing = { apply: (p: never) => { engine.apply(p); wasmArray(64 << 20, 'f32').free(); }, ownsMemory: engine.ownsMemory, rebind: engine.rebind };
    const q = new Float32Array(2 * 8).fill(0.5), k = new Float32Array(8).fill(0.25), v = new Float32Array(8).fill(0.75);
    const kc = wasmArray(3 * 8, 'bf16'), vc = wasmArray(3 * 8, 'bf16');
    try {
      const plan = newCallPlan(createRope({ headDim: 8 }, 'js').invFreq);
      planApplyQK(plan, geometry, newTensorPlan(), q, k, { qHeads: 2, kHeads: 1, positions: 0, v, cache: { k: kc.array, v: vc.array, slots: 1, dtype: 'bf16' } });
      const before = kc.array;
      applyWithCache(growing as never, new CacheWriter(geometry), plan);
      expect(before.length, 'the views taken before were detached').toBe(0);
      // position 0: k and v are copied, converted (0.25, 0.75 are bf16 0x3e80, 0x3f40)
      expect(Array.from(kc.array)).toEqual([...new Array(8).fill(0), ...new Array(8).fill(0x3e80), ...new Array(8).fill(0)]);
      expect(Array.from(vc.array)).toEqual([...new Array(8).fill(0), ...new Array(8).fill(0x3f40), ...new Array(8).fill(0)]);
    } finally {
      kc.free();
      vc.free();
    }
  });
});
