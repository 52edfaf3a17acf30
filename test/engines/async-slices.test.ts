// Async calls in slices (lib/async.ts), on every engine this run has (native, wasm, js): the same
// bits as the sync call for every dtype, layout and buffer kind, however the call is sliced; the
// event loop turns between slices; an AbortSignal stops the call before it starts (nothing
// written) or between slices (an AbortError naming exactly the tokens rotated); a buffer detached,
// transferred or shrunk between slices ends the call with the same accounting; a sync call on the
// same Rope between two slices changes neither call. Every message is checked against the bytes:
// the tokens it names as rotated hold the sync call's result, the others the input, bit for bit.
import { afterEach, describe, expect, it } from 'vitest';
import { offThreadThreads, setAsyncCores, setAsyncSliceTokens } from '../../lib/async.js';
import { splitProgressText } from '../../lib/async-split.js';
import { nativeAddon } from '../../lib/backend.js';
import { ASYNC_INLINE_BYTES, createRope, type Rope } from '../../lib/rope.js';
import { wasmArray } from '../../lib/engine-wasm.js';
import { rng } from '../helpers/engine-ref.js';

type EngineName = 'native' | 'wasm' | 'js';
const engines: EngineName[] = nativeAddon ? ['native', 'wasm', 'js'] : ['wasm', 'js'];

const D = 64;
const R = 48; // rotaryDim: dims 48-63 of every head pass through
const ropeOptions = { headDim: D, rotaryDim: R, base: 10000 };

type Resizable = ArrayBuffer & { resize(n: number): void };
const hasResize = typeof (ArrayBuffer.prototype as Partial<Resizable>).resize === 'function';

afterEach(() => {
  setAsyncSliceTokens(0);
  setAsyncCores(0);
});

function fill<T extends Float32Array | Uint16Array>(a: T, seed: number): T {
  const r = rng(seed);
  for (let i = 0; i < a.length; i++) a[i] = a instanceof Float32Array ? r() * 2 - 1 : 0x3c00 + Math.floor(r() * 0x300);
  return a;
}
function make(n: number, dtype: 'f32' | 'f16' | 'bf16', shared: boolean, seed: number): Float32Array | Uint16Array {
  const el = dtype === 'f32' ? 4 : 2;
  const buf = shared ? new SharedArrayBuffer(n * el) : new ArrayBuffer(n * el);
  return fill(dtype === 'f32' ? new Float32Array(buf) : new Uint16Array(buf), seed);
}
const bytesOf = (a: ArrayBufferView | ArrayBuffer): Buffer =>
  a instanceof ArrayBuffer ? Buffer.from(new Uint8Array(a).slice()) : Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice());
const copyOf = <T extends Float32Array | Uint16Array>(a: T): T => a.slice() as T;

/** The number of (batch row, token) units a message says were rotated, read from its words (and
 * the unchanged part checked to start right after them). */
function rotatedUnits(message: string, batch: number, tokens: number): number {
  if (/before any token was rotated/.test(message)) return 0;
  if (batch === 1) {
    const m = /after tokens? 0(?:-(\d+))? of (\d+) were rotated; tokens? (\d+)(?:-(\d+))? are unchanged/.exec(message);
    expect(m, message).not.toBeNull();
    const last = m![1] === undefined ? 0 : Number(m![1]);
    expect(Number(m![2])).toBe(tokens);
    expect(Number(m![3])).toBe(last + 1);
    expect(Number(m![4] ?? m![3])).toBe(tokens - 1);
    return last + 1;
  }
  const m = /after (.*) were rotated; (.*) are unchanged \((\d+) batch rows of (\d+) tokens\)/.exec(message);
  expect(m, message).not.toBeNull();
  const [, rotated, unchanged] = m!;
  expect([Number(m![3]), Number(m![4])]).toEqual([batch, tokens]);
  let rows = 0;
  const whole = /^batch rows? 0(?:-(\d+))? \(all (\d+) tokens\)/.exec(rotated);
  if (whole) rows = Number(whole[1] ?? 0) + 1;
  const part = /tokens? 0(?:-(\d+))? of batch row (\d+)$/.exec(rotated);
  let t = 0;
  if (part) {
    expect(Number(part[2])).toBe(rows);
    t = Number(part[1] ?? 0) + 1;
    expect(unchanged).toMatch(new RegExp(`^tokens? ${t}(-${tokens - 1})? of batch row ${rows}`));
  } else {
    expect(unchanged).toMatch(new RegExp(`^batch rows? ${rows}\\b`));
  }
  expect(whole !== null || part !== null, message).toBe(true);
  return rows * tokens + t;
}

/** Aborts after `turns` turns of the event loop (0: now). */
function abortAfterTurns(ac: AbortController, turns: number): void {
  if (turns === 0) return ac.abort();
  let n = 0;
  const later = (): void => {
    if (n++ < turns) setImmediate(later);
    else ac.abort();
  };
  setImmediate(later);
}

/**
 * Token-major arrays ('shd'/'bshd', no stride): the first `units` tokens (batch-row order) of got
 * are want's, the rest are before's, bit for bit.
 */
function expectSplit(got: Buffer, want: Buffer, before: Buffer, units: number, unitBytes: number, label: string): void {
  const cut = Math.min(units * unitBytes, got.length);
  expect(got.subarray(0, cut).equals(want.subarray(0, cut)), `${label}: tokens before ${units} rotated`).toBe(true);
  expect(got.subarray(cut).equals(before.subarray(cut, got.length)), `${label}: tokens from ${units} unchanged`).toBe(true);
}

describe.each(engines)('%s engine: async calls in slices', (engine) => {
  const rope: Rope = createRope(ropeOptions, engine);

  it('the same bits as the sync call: dtypes, layouts, batch, strides, inverse, positions, buffer kinds, slice sizes', async () => {
    const r = rng(7);
    for (let c = 0; c < 18; c++) {
      const dtype = (['f32', 'f16', 'bf16'] as const)[c % 3];
      const layout = (['shd', 'bshd', 'bhsd'] as const)[Math.floor(c / 3) % 3];
      const shared = c % 2 === 1;
      const batch = layout === 'shd' ? 1 : 2 + (c % 2);
      const qH = 12 + (c % 5), kH = 4 + (c % 3);
      const T = Math.ceil(6000 / batch / (qH + kH)) + Math.floor(r() * 50); // past ASYNC_INLINE_BYTES for 2-byte dtypes
      expect(batch * T * (qH + kH) * R * 2).toBeGreaterThan(ASYNC_INLINE_BYTES);
      const q = make(batch * T * qH * D, dtype, shared, 10 + c), k = make(batch * T * kH * D, dtype, shared, 40 + c);
      const positions =
        c % 4 === 0 ? Math.floor(r() * 1e5) : Int32Array.from({ length: (c % 4 === 1 ? batch : 1) * T }, () => Math.floor(r() * 1e6));
      const opts = { qHeads: qH, kHeads: kH, positions, layout, batch, dtype, inverse: c % 3 === 1, threads: 1 + (c % 2) };
      const q1 = copyOf(q), k1 = copyOf(k);
      rope.applyQK(q1 as Float32Array, k1 as Float32Array, opts as never);
      // 0: sized by measurement; otherwise odd slice sizes that split batch rows unevenly
      setAsyncSliceTokens([0, 1, 7, 100, T - 1, T + 3][c % 6]);
      const p = rope.applyQKAsync(q as Float32Array, k as Float32Array, opts as never);
      await expect(p).resolves.toBeUndefined();
      expect(bytesOf(q).equals(bytesOf(q1)), `case ${c} q`).toBe(true);
      expect(bytesOf(k).equals(bytesOf(k1)), `case ${c} k`).toBe(true);
      // apply / applyAsync, with a token stride (rows padded) on token-major layouts
      const stride = layout === 'bhsd' ? undefined : qH * D + 8;
      const x = make(stride === undefined ? batch * T * qH * D : batch * T * stride, dtype, shared, 70 + c);
      const o = { heads: qH, positions, layout, batch, dtype, tokens: stride === undefined ? undefined : T, tokenStride: stride };
      const x1 = copyOf(x);
      rope.apply(x1 as Float32Array, o as never);
      await rope.applyAsync(x as Float32Array, o as never);
      expect(bytesOf(x).equals(bytesOf(x1)), `case ${c} x`).toBe(true);
    }
  });

  it('a dynamic (sequence-dependent) scaling picks its frequencies once per call, not per slice', async () => {
    const dyn = createRope({ headDim: D, rotaryDim: R, scaling: { type: 'dynamic', factor: 4, originalMaxPositions: 1024 } }, engine);
    const T = 2048, H = 8;
    const x = make(T * H * D, 'f32', false, 3) as Float32Array, x1 = x.slice();
    dyn.apply(x1, { heads: H, positions: 0 });
    setAsyncSliceTokens(256); // the first slices alone stay below originalMaxPositions
    await dyn.applyAsync(x, { heads: H, positions: 0 });
    expect(bytesOf(x).equals(bytesOf(x1))).toBe(true);
  });

  it('the event loop turns between slices: timers and setImmediate callbacks run before the promise settles', async () => {
    const T = 1024, H = 16;
    const q = make(T * H * D, 'f32', false, 5) as Float32Array, k = make(T * 4 * D, 'f32', false, 6) as Float32Array;
    const q1 = q.slice(), k1 = k.slice();
    rope.applyQK(q1, k1, { qHeads: H, kHeads: 4, positions: 3 });
    setAsyncSliceTokens(64); // 16 slices
    let settled = false;
    let immediates = 0;
    let timers = 0;
    const p = rope.applyQKAsync(q, k, { qHeads: H, kHeads: 4, positions: 3 }).then(() => (settled = true));
    const spin = (): void => {
      if (settled) return;
      immediates++;
      setImmediate(spin);
    };
    setImmediate(spin);
    setTimeout(() => timers++, 0);
    expect(bytesOf(q).equals(bytesOf(q1))).toBe(false); // not done when the call returns
    await p;
    expect(immediates).toBeGreaterThanOrEqual(10);
    expect(timers).toBe(1);
    expect(bytesOf(q).equals(bytesOf(q1))).toBe(true);
    expect(bytesOf(k).equals(bytesOf(k1))).toBe(true);
  });

  it('a sync call on the same Rope between two slices changes neither call', async () => {
    const T = 512, H = 16;
    const q = make(T * H * D, 'bf16', false, 8), k = make(T * 4 * D, 'bf16', false, 9);
    const pos = Int32Array.from({ length: T }, (_, i) => 5 * i);
    const o = { qHeads: H, kHeads: 4, positions: pos, dtype: 'bf16' as const };
    const q1 = copyOf(q), k1 = copyOf(k);
    rope.applyQK(q1 as Uint16Array, k1 as Uint16Array, o);
    const y = make(3 * 4 * D * 2, 'f32', false, 10) as Float32Array, y1 = y.slice();
    const yo = { heads: 4, positions: Int32Array.of(9, 8, 7, 1, 2, 3), layout: 'bshd' as const, batch: 2, inverse: true };
    rope.apply(y1, yo);
    setAsyncSliceTokens(32);
    const p = rope.applyQKAsync(q as Uint16Array, k as Uint16Array, o);
    await new Promise((r) => setImmediate(r));
    rope.apply(y, yo); // reuses the Rope's plan while the async call is between slices
    pos.fill(0); // positions were copied when the call was made
    await p;
    expect(bytesOf(y).equals(bytesOf(y1))).toBe(true);
    expect(bytesOf(q).equals(bytesOf(q1))).toBe(true);
    expect(bytesOf(k).equals(bytesOf(k1))).toBe(true);
  });

  describe('signal', () => {
    it('already aborted: an AbortError, nothing written (sliced, inline and prepared-step calls)', async () => {
      const T = 1024, H = 8;
      const q = make(T * H * D, 'f32', false, 11) as Float32Array, k = make(T * 2 * D, 'f32', false, 12) as Float32Array;
      const small = make(2 * H * D, 'f32', false, 13) as Float32Array, smallK = make(2 * 2 * D, 'f32', false, 14) as Float32Array;
      const before = [q, k, small, smallK].map(bytesOf);
      const ac = new AbortController();
      const reason = new Error('client went away');
      ac.abort(reason);
      const step = rope.prepare({ qHeads: H, kHeads: 2 });
      const calls: [string, () => Promise<void>][] = [
        ['applyQKAsync', () => rope.applyQKAsync(q, k, { qHeads: H, kHeads: 2, positions: 0, signal: ac.signal })],
        ['applyAsync', () => rope.applyAsync(q, { heads: H, positions: 0, signal: ac.signal })],
        ['applyQKAsync inline', () => rope.applyQKAsync(small, smallK, { qHeads: H, kHeads: 2, positions: 0, signal: ac.signal })],
        ['step.applyQKAsync', () => step.applyQKAsync(small, smallK, 4, { signal: ac.signal })],
        ['step.applyQKAsync sliced', () => step.applyQKAsync(q, k, 4, { signal: ac.signal })],
      ];
      for (const [name, call] of calls) {
        let p: Promise<void> | undefined;
        expect(() => (p = call()), name).not.toThrow();
        const e = await p!.then(() => null, (err: unknown) => err as DOMException);
        expect(e, name).toBeInstanceOf(DOMException);
        expect(e!.name, name).toBe('AbortError');
        expect(e!.message, name).toMatch(/^applyQ?K?Async was aborted before it started: nothing was rotated$/);
        expect((e as unknown as { cause: unknown }).cause, name).toBe(reason);
      }
      [q, k, small, smallK].forEach((a, i) => expect(bytesOf(a).equals(before[i]), `array ${i}`).toBe(true));
    });

    it('a signal that is not an AbortSignal: a TypeError rejection, nothing written', async () => {
      const q = make(4 * 2 * D, 'f32', false, 15) as Float32Array, k = make(4 * D, 'f32', false, 16) as Float32Array;
      const before = bytesOf(q);
      for (const signal of ['yes', 1, {}, null]) {
        await expect(rope.applyQKAsync(q, k, { qHeads: 2, kHeads: 1, positions: 0, signal: signal as never })).rejects.toThrow(/^signal must be an AbortSignal, got /);
      }
      await expect(rope.prepare({ qHeads: 2, kHeads: 1 }).applyQKAsync(q, k, 0, { signal: 'no' as never })).rejects.toThrow(TypeError);
      await expect(rope.prepare({ qHeads: 2, kHeads: 1 }).applyQKAsync(q, k, 0, { signl: 1 } as never)).rejects.toThrow(/'signl'.*did you mean 'signal'/);
      expect(bytesOf(q).equals(before)).toBe(true);
    });

    it('abort right after the call: rejects naming the first slice as rotated, the rest unchanged', async () => {
      const T = 1024, H = 8;
      for (const [name, shared] of [['ArrayBuffer', false], ['SharedArrayBuffer', true]] as const) {
        const q = make(T * H * D, 'f32', shared, 17) as Float32Array, k = make(T * 2 * D, 'f32', shared, 18) as Float32Array;
        const before = [bytesOf(q), bytesOf(k)];
        const q1 = q.slice(), k1 = k.slice();
        rope.applyQK(q1, k1, { qHeads: H, kHeads: 2, positions: 9 });
        setAsyncSliceTokens(128);
        const ac = new AbortController();
        const p = rope.applyQKAsync(q, k, { qHeads: H, kHeads: 2, positions: 9, signal: ac.signal });
        ac.abort();
        const e = await p.then(() => null, (err: unknown) => err as DOMException);
        expect(e, name).toBeInstanceOf(DOMException);
        expect(e!.name).toBe('AbortError');
        expect(e!.message, name).toBe('applyQKAsync was aborted after tokens 0-127 of 1024 were rotated; tokens 128-1023 are unchanged');
        expectSplit(bytesOf(q), bytesOf(q1), before[0], 128, H * D * 4, `${name} q`);
        expectSplit(bytesOf(k), bytesOf(k1), before[1], 128, 2 * D * 4, `${name} k`);
      }
    });

    it('abort mid-call (from a later turn of the loop, batch rows too): the tokens it names are exactly those rotated', async () => {
      for (const [batch, slice, hops] of [[1, 48, 2], [3, 40, 9], [4, 300, 1], [2, 4, 0]] as const) {
        const T = 700, H = 8;
        const q = make(batch * T * H * D, 'f16', false, 19 + batch) as Uint16Array, k = make(batch * T * 2 * D, 'f16', false, 29 + batch) as Uint16Array;
        const o = { qHeads: H, kHeads: 2, positions: 11, layout: 'bshd' as const, batch, dtype: 'f16' as const };
        const before = [bytesOf(q), bytesOf(k)];
        const q1 = q.slice(), k1 = k.slice();
        rope.applyQK(q1, k1, o);
        setAsyncSliceTokens(slice);
        const ac = new AbortController();
        const p = rope.applyQKAsync(q, k, { ...o, signal: ac.signal });
        abortAfterTurns(ac, hops);
        const e = await p.then(() => null, (err: unknown) => err as DOMException);
        const label = `batch ${batch}, slices of ${slice}`;
        expect(e?.name, label).toBe('AbortError');
        const units = rotatedUnits(e!.message, batch, T);
        expect(units, `${label}: ${e!.message}`).toBeGreaterThan(0);
        expect(units, `${label}: ${e!.message}`).toBeLessThan(batch * T);
        expectSplit(bytesOf(q), bytesOf(q1), before[0], units, H * D * 2, `${label} q`);
        expectSplit(bytesOf(k), bytesOf(k1), before[1], units, 2 * D * 2, `${label} k`);
      }
    });

    it('a signal aborted after the promise settled changes nothing; a call that finished in one slice resolves', async () => {
      const T = 1024, H = 8;
      const x = make(T * H * D, 'f32', false, 31) as Float32Array, x1 = x.slice();
      rope.apply(x1, { heads: H, positions: 0 });
      const ac = new AbortController();
      setAsyncSliceTokens(T);
      const p = rope.applyAsync(x, { heads: H, positions: 0, signal: ac.signal });
      ac.abort(); // the only slice has run
      await expect(p).resolves.toBeUndefined();
      expect(bytesOf(x).equals(bytesOf(x1))).toBe(true);
    });
  });

  describe('buffers changed between slices', () => {
    const T = 1024, H = 8;
    const tokenBytes = H * D * 4;

    it('transferred (structuredClone): a TypeError naming the tokens rotated; the new owner holds exactly those rotated', async () => {
      const x = make(T * H * D, 'f32', false, 33) as Float32Array;
      const before = bytesOf(x);
      const x1 = x.slice();
      rope.apply(x1, { heads: H, positions: 2 });
      setAsyncSliceTokens(128);
      const p = rope.applyAsync(x, { heads: H, positions: 2 });
      const moved = structuredClone(x.buffer as ArrayBuffer, { transfer: [x.buffer as ArrayBuffer] });
      expect(x.byteLength).toBe(0);
      const e = await p.then(() => null, (err: unknown) => err as Error);
      expect(e).toBeInstanceOf(TypeError);
      expect(e!.message).toMatch(
        /^x's buffer was detached \(transferred\) while applyAsync ran, after tokens 0-127 of 1024 were rotated; tokens 128-1023 are unchanged\. /,
      );
      expectSplit(bytesOf(moved), bytesOf(x1), before, 128, tokenBytes, 'moved');
    });

    it('k transferred during applyQKAsync (q on a SharedArrayBuffer): names k; q and k rotated up to the same token', async () => {
      const q = make(T * H * D, 'f32', true, 34) as Float32Array, k = make(T * 2 * D, 'f32', false, 35) as Float32Array;
      const before = [bytesOf(q), bytesOf(k)];
      const q1 = q.slice(), k1 = k.slice();
      rope.applyQK(q1, k1, { qHeads: H, kHeads: 2, positions: 0 });
      setAsyncSliceTokens(100);
      const p = rope.applyQKAsync(q, k, { qHeads: H, kHeads: 2, positions: 0 });
      let moved: ArrayBuffer | null = null;
      setImmediate(() => (moved = structuredClone(k.buffer as ArrayBuffer, { transfer: [k.buffer as ArrayBuffer] })));
      const e = await p.then(() => null, (err: unknown) => err as Error);
      expect(e).toBeInstanceOf(TypeError);
      expect(e!.message).toMatch(/^k's buffer was detached \(transferred\) while applyQKAsync ran, after tokens 0-/);
      const units = rotatedUnits(e!.message, 1, T);
      expect(units).toBeGreaterThanOrEqual(100);
      expectSplit(bytesOf(q), bytesOf(q1), before[0], units, tokenBytes, 'q');
      expectSplit(bytesOf(moved!), bytesOf(k1), before[1], units, 2 * D * 4, 'k');
    });

    it('resize() shrink: a RangeError naming the tokens rotated and the lengths; shrink and grow back: the call goes on', async () => {
      if (!hasResize) {
        expect((new ArrayBuffer(8) as Partial<Resizable>).resize).toBeUndefined();
        return;
      }
      const AB = ArrayBuffer as unknown as new (n: number, o: object) => Resizable;
      for (const dtype of ['f32', 'bf16'] as const) {
        const el = dtype === 'f32' ? 4 : 2;
        const buf = new AB(T * H * D * el, { maxByteLength: T * H * D * el });
        const x = fill(dtype === 'f32' ? new Float32Array(buf) : new Uint16Array(buf), 36);
        const before = bytesOf(x);
        const x1 = copyOf(x);
        rope.apply(x1 as Float32Array, { heads: H, positions: 5, dtype } as never);
        setAsyncSliceTokens(200);
        const p = rope.applyAsync(x as Float32Array, { heads: H, positions: 5, dtype } as never);
        buf.resize(buf.byteLength / 2);
        const e = await p.then(() => null, (err: unknown) => err as Error);
        expect(e, dtype).toBeInstanceOf(RangeError);
        expect(e!.message, dtype).toBe(
          `x's buffer shrank while applyAsync ran (x now has ${(T * H * D) / 2} elements, its rows need ${T * H * D}), after tokens 0-199 of 1024 were rotated; tokens 200-1023 are unchanged`,
        );
        expectSplit(bytesOf(buf), bytesOf(x1), before, 200, H * D * el, dtype);
      }
      // shrunk and grown back before the next slice: the memory holds the rows again, so the call
      // rotates the rest (what the shrink zeroed stays zero: a rotation of zeros)
      const buf = new AB(T * H * D * 4, { maxByteLength: T * H * D * 4 });
      const x = fill(new Float32Array(buf), 37);
      const x1 = x.slice();
      rope.apply(x1, { heads: H, positions: 1 });
      setAsyncSliceTokens(128);
      const p = rope.applyAsync(x, { heads: H, positions: 1 });
      buf.resize(64);
      buf.resize(T * H * D * 4);
      await expect(p).resolves.toBeUndefined();
      for (let i = 0; i < x.length; i++) if (x[i] !== (i < 16 ? x1[i] : 0)) expect([i, x[i]]).toEqual([i, i < 16 ? x1[i] : 0]);
    });
  });

});

describe('wasm engine, arrays in its memory (wasmArray)', () => {
  const rope = createRope(ropeOptions, 'wasm');
  it('a wasmArray is rotated in place in slices; freeing it mid-call stops the call with the accounting', async () => {
    const T = 1024, H = 8;
    const a = wasmArray(T * H * D);
    fill(a.array as Float32Array, 38);
    const x1 = (a.array as Float32Array).slice();
    rope.apply(x1, { heads: H, positions: 3 });
    setAsyncSliceTokens(100);
    await rope.applyAsync(a.array as Float32Array, { heads: H, positions: 3 });
    expect(bytesOf(a.array).equals(bytesOf(x1))).toBe(true);
    const b = wasmArray(T * H * D);
    fill(b.array as Float32Array, 39);
    const p = rope.applyAsync(b.array as Float32Array, { heads: H, positions: 3 });
    b.free();
    await expect(p).rejects.toThrow(/outside any live wasmArray.*\(applyAsync stopped after tokens 0-99 of 1024 were rotated; tokens 100-1023 are unchanged\)/);
    a.free();
  });
});

describe('native engine, SharedArrayBuffer memory', () => {
  if (nativeAddon === null) {
    it('no native engine in this run: the run forces the JS or wasm backend', () => {
      expect(['js', 'wasm']).toContain(process.env.ROPE_SIMD_BACKEND);
    });
    return;
  }
  const rope = createRope(ropeOptions, 'native');
  // Where the call runs, seen from this thread spinning without a turn of the event loop (slices
  // of 64 tokens): 'slices' (on this thread: the last token cannot change before a turn), 'split'
  // (the pool's first chunk at the end changes, the middle waits for this thread's next slice) or
  // 'pool' (the whole call off this thread: the middle changes too).
  async function whereItRuns(threads: number | 'auto'): Promise<'pool' | 'split' | 'slices'> {
    const T = 1024, H = 16;
    const q = make(T * H * D, 'f32', true, 41) as Float32Array, k = make(T * 4 * D, 'f32', true, 42) as Float32Array;
    const q1 = q.slice(), k1 = k.slice();
    rope.applyQK(q1, k1, { qHeads: H, kHeads: 4, positions: 6 });
    const last = q.length - D; // the last token's last head
    const middle = (T / 2) * H * D;
    const p = rope.applyQKAsync(q, k, { qHeads: H, kHeads: 4, positions: 6, threads });
    const spinUntil = (i: number, ms: number): boolean => {
      const t0 = Date.now();
      while (q[i] !== q1[i] && Date.now() - t0 < ms) {
        /* the pool writes while this thread never yields */
      }
      return q[i] === q1[i];
    };
    const lastDone = spinUntil(last, 3000);
    const middleDone = lastDone && spinUntil(middle, 1000);
    await p;
    expect(bytesOf(q).equals(bytesOf(q1))).toBe(true);
    expect(bytesOf(k).equals(bytesOf(k1))).toBe(true);
    return !lastDone ? 'slices' : middleDone ? 'pool' : 'split';
  }

  it('off the JS thread when the walk leaves a core to the event loop; else from both ends (2 cores) or in slices (1); same bits', async () => {
    setAsyncSliceTokens(64);
    setAsyncCores(2);
    expect(await whereItRuns(1)).toBe('pool');
    expect(await whereItRuns(2)).toBe('split');
    expect(await whereItRuns('auto')).toBe('split'); // 2 threads for 10 MiB: every core
    setAsyncCores(8);
    expect(await whereItRuns('auto')).toBe('pool');
    expect(await whereItRuns(8)).toBe('pool'); // run on 7
    setAsyncCores(1);
    expect(await whereItRuns(1)).toBe('slices');
    expect(await whereItRuns('auto')).toBe('slices');
  });

  describe('from both ends (2 cores)', () => {
    /** [lo, hi) from a message: tokens [0, lo) and [hi, T) rotated, the rest unchanged. */
    function rotatedEnds(message: string, T: number): [number, number] {
      if (/before any token was rotated/.test(message)) return [0, T];
      const m = /after (?:tokens? 0(?:-(\d+))?)?(?: and )?(?:tokens? (\d+)(?:-(\d+))?)? of (\d+) were rotated(?:; tokens? (\d+)(?:-(\d+))? are unchanged)?$/.exec(message);
      expect(m, message).not.toBeNull();
      expect(Number(m![4])).toBe(T);
      expect(m![5], `${message}: something is unchanged`).toBeDefined();
      const lo = Number(m![5]);
      return [lo, m![6] === undefined ? lo + 1 : Number(m![6]) + 1];
    }
    function expectEnds(got: Buffer, want: Buffer, before: Buffer, lo: number, hi: number, unit: number, label: string): void {
      expect(got.subarray(0, lo * unit).equals(want.subarray(0, lo * unit)), `${label}: tokens before ${lo} rotated`).toBe(true);
      expect(got.subarray(lo * unit, hi * unit).equals(before.subarray(lo * unit, hi * unit)), `${label}: tokens ${lo}-${hi - 1} unchanged`).toBe(true);
      expect(got.subarray(hi * unit).equals(want.subarray(hi * unit)), `${label}: tokens from ${hi} rotated`).toBe(true);
    }

    it('the same bits as the sync call: dtypes, positions, strides, inverse, apply and applyQK, slice sizes', async () => {
      setAsyncCores(2);
      const r = rng(77);
      for (let c = 0; c < 24; c++) {
        const dtype = (['f32', 'f16', 'bf16'] as const)[c % 3];
        const T = 900 + Math.floor(r() * 600), H = 8;
        setAsyncSliceTokens([0, 1, 37, 300, T - 2][c % 5]);
        const stride = c % 4 === 1 ? (H + 2) * D : H * D;
        const q = make(T * stride, dtype, true, 100 + c), k = make(T * 2 * D, dtype, true, 200 + c);
        const q1 = copyOf(q), k1 = copyOf(k);
        const positions = c % 2 === 0 ? Int32Array.from({ length: T }, () => Math.floor(r() * 50000)) : 3 + c;
        const o = { qHeads: H, kHeads: 2, positions, dtype, inverse: c % 5 === 2, qTokenStride: stride, tokens: T, threads: 'auto' as const };
        const before = bytesOf(q);
        if (c % 6 === 5) {
          const x = { heads: H, positions, dtype, inverse: o.inverse, tokenStride: stride, tokens: T };
          rope.apply(q1, x as never);
          await rope.applyAsync(q, x as never);
        } else {
          rope.applyQK(q1, k1, o as never);
          await rope.applyQKAsync(q, k, o as never);
          expect(bytesOf(k).equals(bytesOf(k1)), `case ${c} k`).toBe(true);
        }
        expect(bytesOf(q).equals(bytesOf(q1)), `case ${c} q`).toBe(true);
        expect(bytesOf(q).equals(before), `case ${c}: something was rotated`).toBe(false);
      }
    });

    it('abort right after the call: the first slice here and the pool\'s first chunk rotated, the middle unchanged', async () => {
      setAsyncCores(2);
      setAsyncSliceTokens(128);
      const T = 1024, H = 16;
      const q = make(T * H * D, 'f32', true, 51) as Float32Array, k = make(T * 4 * D, 'f32', true, 52) as Float32Array;
      const before = [bytesOf(q), bytesOf(k)];
      const q1 = q.slice(), k1 = k.slice();
      rope.applyQK(q1, k1, { qHeads: H, kHeads: 4, positions: 9 });
      const ac = new AbortController();
      const p = rope.applyQKAsync(q, k, { qHeads: H, kHeads: 4, positions: 9, signal: ac.signal });
      ac.abort();
      const e = await p.then(() => null, (err: unknown) => err as DOMException);
      expect(e?.name).toBe('AbortError');
      expect(e!.message).toBe('applyQKAsync was aborted after tokens 0-127 and tokens 896-1023 of 1024 were rotated; tokens 128-895 are unchanged');
      expectEnds(bytesOf(q), bytesOf(q1), before[0], 128, 896, H * D * 4, 'q');
      expectEnds(bytesOf(k), bytesOf(k1), before[1], 128, 896, 4 * D * 4, 'k');
    });

    it('abort from a later turn of the loop: the tokens it names are exactly those rotated', async () => {
      setAsyncCores(2);
      for (const [slice, hops] of [[16, 1], [40, 3], [0, 2]] as const) {
        setAsyncSliceTokens(slice);
        const T = 2000, H = 16;
        const q = make(T * H * D, 'bf16', true, 61 + hops) as Uint16Array, k = make(T * 4 * D, 'bf16', true, 71 + hops) as Uint16Array;
        const o = { qHeads: H, kHeads: 4, positions: 5, dtype: 'bf16' as const };
        const before = [bytesOf(q), bytesOf(k)];
        const q1 = q.slice(), k1 = k.slice();
        rope.applyQK(q1, k1, o);
        const ac = new AbortController();
        const p = rope.applyQKAsync(q, k, { ...o, signal: ac.signal });
        abortAfterTurns(ac, Math.max(1, hops));
        const e = await p.then(() => null, (err: unknown) => err as DOMException);
        const label = `slices of ${slice}, ${hops} turns`;
        if (e === null) continue; // (finished before the abort: a fast machine, large slices)
        expect(e.name, label).toBe('AbortError');
        const [lo, hi] = rotatedEnds(e.message, T);
        expect(lo, `${label}: ${e.message}`).toBeGreaterThan(0);
        expect(hi, `${label}: ${e.message}`).toBeLessThanOrEqual(T);
        expectEnds(bytesOf(q), bytesOf(q1), before[0], lo, hi, H * D * 2, `${label} q`);
        expectEnds(bytesOf(k), bytesOf(k1), before[1], lo, hi, 4 * D * 2, `${label} k`);
      }
    });

    it('progress in words: a first run and a last run of tokens, the middle unchanged', () => {
      expect(splitProgressText(0, 10, 10)).toBe('before any token was rotated: all 10 tokens are unchanged');
      expect(splitProgressText(3, 8, 10)).toBe('after tokens 0-2 and tokens 8-9 of 10 were rotated; tokens 3-7 are unchanged');
      expect(splitProgressText(1, 9, 10)).toBe('after token 0 and token 9 of 10 were rotated; tokens 1-8 are unchanged');
      expect(splitProgressText(0, 7, 10)).toBe('after tokens 7-9 of 10 were rotated; tokens 0-6 are unchanged');
      expect(splitProgressText(4, 10, 10)).toBe('after tokens 0-3 of 10 were rotated; tokens 4-9 are unchanged');
      expect(splitProgressText(5, 6, 10)).toBe('after tokens 0-4 and tokens 6-9 of 10 were rotated; token 5 is unchanged');
    });
  });

  it('offThreadThreads: one core left to the event loop, unless that keeps less than 2/3 of the threads', () => {
    const MiB = 1 << 20;
    const cases: [number | 'auto', number, number, number][] = [
      // threads, bytes, cores -> threads off the JS thread (0: slices on it)
      ['auto', 84 * MiB, 2, 0],
      ['auto', 1.5 * MiB, 2, 1],
      ['auto', 84 * MiB, 3, 2],
      ['auto', 84 * MiB, 8, 7],
      ['auto', 84 * MiB, 64, 16],
      ['auto', 5 * MiB, 64, 5],
      [1, 84 * MiB, 2, 1],
      [2, 84 * MiB, 2, 0],
      [4, 84 * MiB, 4, 3],
      [1, 84 * MiB, 1, 0],
      [1000, 84 * MiB, 128, 64],
    ];
    for (const [threads, bytes, cores, want] of cases) {
      expect(offThreadThreads(threads === 'auto' ? 0 : threads, bytes, cores), `${threads} ${bytes / MiB} MiB ${cores} cores`).toBe(want);
    }
  });

  it('with a signal: off the JS thread in slices; an abort names the tokens rotated', async () => {
    const T = 2048, H = 16;
    const q = make(T * H * D, 'f32', true, 43) as Float32Array, k = make(T * 4 * D, 'f32', true, 44) as Float32Array;
    const before = [bytesOf(q), bytesOf(k)];
    const q1 = q.slice(), k1 = k.slice();
    rope.applyQK(q1, k1, { qHeads: H, kHeads: 4, positions: 0 });
    setAsyncSliceTokens(256);
    setAsyncCores(8);
    const ac = new AbortController();
    const p = rope.applyQKAsync(q, k, { qHeads: H, kHeads: 4, positions: 0, signal: ac.signal });
    ac.abort();
    const e = await p.then(() => null, (err: unknown) => err as DOMException);
    expect(e?.name).toBe('AbortError');
    expect(e!.message).toBe('applyQKAsync was aborted after tokens 0-255 of 2048 were rotated; tokens 256-2047 are unchanged');
    expectSplit(bytesOf(q), bytesOf(q1), before[0], 256, H * D * 4, 'q');
    expectSplit(bytesOf(k), bytesOf(k1), before[1], 256, 4 * D * 4, 'k');
    const q2 = make(T * H * D, 'f32', true, 43) as Float32Array, k2 = make(T * 4 * D, 'f32', true, 44) as Float32Array;
    await rope.applyQKAsync(q2, k2, { qHeads: H, kHeads: 4, positions: 0, signal: new AbortController().signal });
    expect(bytesOf(q2).equals(bytesOf(q1))).toBe(true);
    expect(bytesOf(k2).equals(bytesOf(k1))).toBe(true);
  });
});
