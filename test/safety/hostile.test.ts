// Hostile input: every parameter of every call (apply, applyQK, their Async forms, cosSin,
// the constructor, fromConfig/fromGGUF) given wrong types, NaN, ±Infinity, negative, fractional,
// 2^31 and 2^53 sized values, empty and off-by-one arrays, transferred buffers, resized buffers.
// Each refusal: the error type, a message naming the parameter, every byte of every buffer involved
// unchanged (the whole buffer, not just the view; a transferred buffer's bytes are checked in its
// new owner), and the Rope still computes the same afterwards (a refused call leaves no state).
// Runs on both engines, sync and async. test/unit/validate.test.ts holds the first table; this one
// sweeps every parameter systematically and adds buffers that change shape or lie about it.
import { describe, expect, it } from 'vitest';
import { Rope } from '../../lib/index.js';
import { createRope, nativeAddon } from '../../lib/internal.js';

const D = 8; // headDim
const H = 2; // heads for apply
const T = 3; // tokens
const QH = 4;
const KH = 2;
const P = 5;
const ENGINES: ('js' | 'native' | 'wasm')[] = nativeAddon ? ['js', 'wasm', 'native'] : ['js', 'wasm'];

type Kind = typeof TypeError | typeof RangeError;
type Call = { x: unknown; opts: unknown } | { q: unknown; k: unknown; opts: unknown };
type Case = [name: string, kind: Kind, names: string, make: (t: Tracker) => Call];
type Resizable = ArrayBuffer & { resize(n: number): void };
type Growable = SharedArrayBuffer & { grow(n: number): void };
// ES2024 resizable buffers (Node >= 20); typed here because the project's lib predates them.
const resizable = (n: number, max: number) => new (ArrayBuffer as unknown as new (n: number, o: object) => Resizable)(n, { maxByteLength: max });
const growable = (n: number, max: number) => new (SharedArrayBuffer as unknown as new (n: number, o: object) => Growable)(n, { maxByteLength: max });
// Gated on the feature, not on a version: Node 18 has neither (the maxByteLength option is then
// ignored), and the cases that build such buffers are replaced by a test that they are absent.
const RESIZABLE = typeof (ArrayBuffer.prototype as Partial<Resizable>).resize === 'function';
const GROWABLE = typeof (SharedArrayBuffer.prototype as Partial<Growable>).grow === 'function';
const NEEDS_RESIZE = /resizable|growable|shrinks x/;
const gated = <C extends [string, ...unknown[]]>(cases: C[]): C[] => cases.filter((c) => (RESIZABLE && GROWABLE) || !NEEDS_RESIZE.test(c[0]));

describe('resizable and growable buffers (ES2024), which some cases below need', () => {
  it('are both present, or both absent (Node 18) and then ignored by the constructors', () => {
    expect(RESIZABLE).toBe(GROWABLE);
    if (!RESIZABLE) {
      const b = resizable(8, 16) as Partial<Resizable>;
      expect(b.resize).toBeUndefined();
      expect(b.byteLength).toBe(8);
      expect((growable(8, 16) as Partial<Growable>).grow).toBeUndefined();
    } else {
      expect((resizable(8, 16) as Resizable & { resizable?: boolean }).resizable).toBe(true);
    }
  });
});

const fill = <A extends Float32Array | Uint16Array>(a: A): A => {
  for (let i = 0; i < a.length; i++) a[i] = a instanceof Float32Array ? Math.sin(0.37 * i + 1) : (0x3c00 + 37 * i) & 0x7bff;
  return a;
};
const bufBytes = (b: ArrayBufferLike) => new Uint8Array(b.slice(0));

/** Records the whole buffer behind each array at creation; unchanged() compares every byte. */
class Tracker {
  readonly seen: { buf: ArrayBufferLike; bytes: Uint8Array; moved?: ArrayBuffer }[] = [];
  track<V extends ArrayBufferView>(v: V): V {
    if (!this.seen.some((s) => s.buf === v.buffer)) this.seen.push({ buf: v.buffer, bytes: bufBytes(v.buffer) });
    return v;
  }
  f32(n: number): Float32Array {
    return this.track(fill(new Float32Array(n)));
  }
  x(): Float32Array {
    return this.f32(T * H * D);
  }
  q(): Float32Array {
    return this.f32(T * QH * D);
  }
  k(): Float32Array {
    return this.f32(T * KH * D);
  }
  /** Transfers v's buffer away (v is left detached); its new owner must keep the bytes. */
  transfer<V extends ArrayBufferView>(v: V): V {
    this.track(v);
    const s = this.seen.find((e) => e.buf === v.buffer)!;
    s.moved = structuredClone(v.buffer as ArrayBuffer, { transfer: [v.buffer as ArrayBuffer] });
    return v;
  }
  unchanged(): void {
    for (const s of this.seen) {
      if (s.moved) {
        expect(s.buf.byteLength, 'a transferred buffer stays detached').toBe(0);
        expect(new Uint8Array(s.moved)).toEqual(s.bytes);
        continue;
      }
      const now = bufBytes(s.buf);
      const n = Math.min(now.length, s.bytes.length); // resized buffers: the common bytes, new ones zero
      expect(now.subarray(0, n)).toEqual(s.bytes.subarray(0, n));
      expect(now.subarray(n).every((b) => b === 0)).toBe(true);
    }
  }
}

// ---- the sweep ------------------------------------------------------------------------------------
const R = RangeError;
const TE = TypeError;
// Values no integer parameter accepts (2^31 is per parameter: seqLen takes it, sizes do not fit).
const BAD_INTS: [string, unknown, Kind][] = [
  ['NaN', NaN, R], ['Infinity', Infinity, R], ['-Infinity', -Infinity, R], ['-1', -1, R], ['0', 0, R], ['-0', -0, R],
  ['0.5', 0.5, R], ['2^53', 2 ** 53, R], ['2^53+2', 2 ** 53 + 2, R], ['MAX_VALUE', Number.MAX_VALUE, R],
  ['MIN_VALUE', Number.MIN_VALUE, R], ["'2'", '2', TE], ['null', null, TE], ['true', true, TE], ['2n', 2n, TE],
  ['{}', {}, TE], ['[2]', [2], TE],
];
const BAD_ENUMS: [string, unknown][] = [['null', null], ['0', 0], ['1', 1], ["''", ''], ["'SHD'", 'SHD'], ["'F32'", 'F32'], ['{}', {}], ["'true'", 'true']];
const BAD_THREADS: [string, unknown][] = [["'AUTO'", 'AUTO'], ["''", ''], ["'2'", '2'], ['false', false]];
const BAD_POSITIONS: [string, unknown, Kind, string][] = [
  ['null', null, TE, 'positions'], ['{}', {}, TE, 'positions'], ["'5'", '5', TE, 'positions'], ['true', true, TE, 'positions'],
  ['5n', 5n, TE, 'positions'], ['a function', () => 5, TE, 'positions'], ['empty Int32Array', new Int32Array(0), R, 'positions.length 0'],
  ['BigInt64Array', new BigInt64Array(3), TE, 'BigInt64Array'], ['Int16Array', new Int16Array(3), TE, 'Int16Array'],
  ['Float64Array', new Float64Array(3), TE, 'Float64Array'], ['an array-like', { length: 3, 0: 1, 1: 2, 2: 3 }, TE, 'positions'],
  ['a sparse array', [5, , 6], TE, 'positions[1]'], ['MAX_VALUE', Number.MAX_VALUE, R, 'positions'],
  ['-Infinity', -Infinity, R, 'positions'], ['2^53+2', 2 ** 53 + 2, R, 'positions'],
  ['2^31-1 + 3 tokens', 2 ** 31 - 1, R, 'positions 2147483647 + tokens 3'], ['[..., MAX_VALUE]', [1, 2, Number.MAX_VALUE], R, 'positions[2]'],
  ['[..., -0.5]', [1, 2, -0.5], R, 'positions[2]'], ['[..., 2^53]', [1, 2, 2 ** 53], R, 'positions[2]'],
  ['[..., null]', [1, 2, null], TE, 'positions[2]'], ['Int32Array one short', Int32Array.of(1, 2), R, 'positions.length 2'],
  ['Int32Array one long', Int32Array.of(1, 2, 3, 4), R, 'positions.length 4'], ['[] one long', [1, 2, 3, 4], R, 'positions.length 4'],
  ['Int32Array of -2^31', Int32Array.of(1, 2, -(2 ** 31)), R, 'positions[2]'],
];
const notArrays: [string, (t: Tracker) => unknown, string][] = [
  ['Uint8Array', (t) => t.track(new Uint8Array(192)), 'Uint8Array'], ['Uint8ClampedArray', (t) => t.track(new Uint8ClampedArray(192)), 'Uint8ClampedArray'],
  ['Int32Array', (t) => t.track(new Int32Array(48)), 'Int32Array'], ['Uint32Array', (t) => t.track(new Uint32Array(48)), 'Uint32Array'],
  ['BigInt64Array', (t) => t.track(new BigInt64Array(48)), 'BigInt64Array'], ['an ArrayBuffer', () => new ArrayBuffer(192), 'ArrayBuffer'],
  ['a SharedArrayBuffer', () => new SharedArrayBuffer(192), 'must be'], ['a string', () => 'x'.repeat(48), 'must be'],
  ['a number', () => 48, 'must be'], ['an array-like', () => ({ length: 48, BYTES_PER_ELEMENT: 4 }), 'must be'],
  ['undefined', () => undefined, 'must be']
];

function intSweep(param: string, set: (v: unknown) => (t: Tracker) => Call, accepts2p31 = false): Case[] {
  const vals: [string, unknown, Kind][] = accepts2p31 ? BAD_INTS : [...BAD_INTS, ['2^31', 2 ** 31, R]];
  return vals.map(([label, v, kind]): Case => [`${param} ${label}`, kind, param, set(v)]);
}

const ax = (o: object) => (t: Tracker): Call => ({ x: t.x(), opts: { heads: H, positions: P, ...o } });
const qk = (o: object) => (t: Tracker): Call => ({ q: t.q(), k: t.k(), opts: { qHeads: QH, kHeads: KH, positions: P, ...o } });

const applyCases: Case[] = [
  ...intSweep('heads', (v) => ax({ heads: v })),
  ...intSweep('batch', (v) => ax({ layout: 'bshd', batch: v })),
  ...intSweep('tokens', (v) => ax({ tokens: v })),
  ...intSweep('tokenStride', (v) => ax({ tokens: T, tokenStride: v })),
  ...intSweep('threads', (v) => ax({ threads: v })),
  ...intSweep('seqLen', (v) => ax({ seqLen: v }), true),
  ...(['layout', 'dtype', 'inverse'] as const).flatMap((p) =>
    BAD_ENUMS.map(([label, v]): Case => [`${p} ${label}`, TE, p, ax({ [p]: v })]),
  ),
  ...BAD_THREADS.map(([label, v]): Case => [`threads ${label}`, TE, 'threads', ax({ threads: v })]),
  ...BAD_POSITIONS.map(([label, v, kind, names]): Case => [`positions ${label}`, kind, names, ax({ positions: v })]),
  ...notArrays.map(([label, make, names]): Case => [`x ${label}`, TE, names, (t) => ({ x: make(t), opts: { heads: H, positions: P } })]),
  ...([null, undefined, 5, 'opts', true, Symbol('o'), () => 0] as unknown[]).map((o): Case => [`options ${String(typeof o)} ${String(o)}`, TE, 'options', (t) => ({ x: t.x(), opts: o })]),
  ['options an array', TE, 'heads', (t) => ({ x: t.x(), opts: [] })],
  ['an options getter throwing', Error as never, 'boom', (t) => ({ x: t.x(), opts: { heads: H, get positions(): number { throw new Error('boom in positions'); } } })],
  ['x transferred', TE, "x's buffer", (t) => ({ x: t.transfer(t.x()), opts: { heads: H, positions: P } })],
  ['x length-tracking, resizable buffer shrunk to one short', R, 'x.length 47', (t) => {
    const buf = resizable(4 * 48, 4 * 96);
    const x = t.track(fill(new Float32Array(buf)));
    buf.resize(4 * 47);
    return { x, opts: { heads: H, positions: P } };
  }],
  ['x length-tracking, growable SharedArrayBuffer grown one long', R, 'x.length 49', (t) => {
    const buf = growable(4 * 48, 4 * 96);
    const x = t.track(fill(new Float32Array(buf)));
    buf.grow(4 * 49);
    return { x, opts: { heads: H, positions: P } };
  }],
  ['x f16 bits, dtype null', TE, 'dtype', (t) => ({ x: t.track(fill(new Uint16Array(48))), opts: { heads: H, positions: P, dtype: null } })],
  ['bshd batch 2, tokens 1, tokenStride 2^31', R, 'tokenStride 2147483648', (t) => ({ x: t.x(), opts: { heads: H, positions: P, layout: 'bshd', batch: 2, tokens: 1, tokenStride: 2 ** 31 } })],
  ['tokenStride 2^53-1 with 2 tokens', R, 'tokenStride 9007199254740991', (t) => ({ x: t.x(), opts: { heads: H, positions: P, tokens: 2, tokenStride: 2 ** 53 - 1 } })],
  ['positions Int32Array transferred', TE, 'positions', (t) => ({ x: t.x(), opts: { heads: H, positions: t.transfer(Int32Array.of(1, 2, 3)) } })],
  ['positions Int32Array on a shrunk resizable buffer', R, 'positions.length 2', (t) => {
    const buf = resizable(12, 64);
    const p = new Int32Array(buf);
    p.set([1, 2, 3]);
    t.track(p);
    buf.resize(8);
    return { x: t.x(), opts: { heads: H, positions: p } };
  }],
];

const qkCases: Case[] = [
  ...intSweep('qHeads', (v) => qk({ qHeads: v })),
  ...intSweep('kHeads', (v) => qk({ kHeads: v })),
  ...intSweep('batch', (v) => qk({ layout: 'bhsd', batch: v })),
  ...intSweep('tokens', (v) => qk({ tokens: v })),
  ...intSweep('tokenStride', (v) => qk({ tokens: T, tokenStride: v })),
  ...intSweep('qTokenStride', (v) => qk({ tokens: T, qTokenStride: v })),
  ...intSweep('kTokenStride', (v) => qk({ tokens: T, kTokenStride: v })),
  ...intSweep('threads', (v) => qk({ threads: v })),
  ...intSweep('seqLen', (v) => qk({ seqLen: v }), true),
  ...(['layout', 'dtype', 'inverse'] as const).flatMap((p) =>
    BAD_ENUMS.map(([label, v]): Case => [`${p} ${label}`, TE, p, qk({ [p]: v })]),
  ),
  ...BAD_THREADS.map(([label, v]): Case => [`threads ${label}`, TE, 'threads', qk({ threads: v })]),
  ...BAD_POSITIONS.map(([label, v, kind, names]): Case => [`positions ${label}`, kind, names, qk({ positions: v })]),
  ...notArrays.flatMap(([label, make, names]): Case[] => [
    [`q ${label}`, TE, names, (t) => ({ q: make(t), k: t.k(), opts: { qHeads: QH, kHeads: KH, positions: P } })],
    [`k ${label}`, TE, names, (t) => ({ q: t.q(), k: make(t), opts: { qHeads: QH, kHeads: KH, positions: P } })],
  ]),
  ...([null, undefined, 7, 'opts'] as unknown[]).map((o): Case => [`options ${String(o)}`, TE, 'options', (t) => ({ q: t.q(), k: t.k(), opts: o })]),
  ['q transferred', TE, "q's buffer", (t) => ({ q: t.transfer(t.q()), k: t.k(), opts: { qHeads: QH, kHeads: KH, positions: P } })],
  ['k transferred', TE, "k's buffer", (t) => ({ q: t.q(), k: t.transfer(t.k()), opts: { qHeads: QH, kHeads: KH, positions: P } })],
  ['k.length one short', R, 'k', (t) => ({ q: t.q(), k: t.f32(T * KH * D - 1), opts: { qHeads: QH, kHeads: KH, positions: P } })],
  ['k.length one long', R, 'k', (t) => ({ q: t.q(), k: t.f32(T * KH * D + 1), opts: { qHeads: QH, kHeads: KH, positions: P } })],
  ['k f16 bits next to an f32 q with dtype f16', TE, 'dtype', (t) =>
    ({ q: t.q(), k: t.track(fill(new Uint16Array(T * KH * D))), opts: { qHeads: QH, kHeads: KH, positions: P, dtype: 'f16' } })],
  ['k inside q', R, 'overlap', (t) => {
    const q = t.q();
    return { q, k: q.subarray(8, 8 + T * KH * D), opts: { qHeads: QH, kHeads: KH, positions: P } };
  }],
  ['k at q\'s start with another length', R, 'same array', (t) => {
    const q = t.q();
    return { q, k: q.subarray(0, T * KH * D), opts: { qHeads: QH, kHeads: KH, positions: P } };
  }],
  ['q and k overlapping views of a SharedArrayBuffer', R, 'overlap', (t) => {
    const all = t.track(fill(new Float32Array(new SharedArrayBuffer(4 * 200))));
    return { q: all.subarray(0, T * QH * D), k: all.subarray(T * QH * D - 4, T * QH * D - 4 + T * KH * D), opts: { qHeads: QH, kHeads: KH, positions: P } };
  }],
  ['positions sharing k memory', R, 'positions shares memory with k', (t) => {
    const buf = new ArrayBuffer(4 * (T * KH * D + 8));
    const k = fill(new Float32Array(buf, 0, T * KH * D));
    const p = new Int32Array(buf, 4 * (T * KH * D - 1), 3); // its first entry is k's last element
    p.set([1, 2, 3]);
    return { q: t.q(), k: t.track(k), opts: { qHeads: QH, kHeads: KH, positions: p } };
  }],
];

// ---- running a case ---------------------------------------------------------------------------
const ropes = Object.fromEntries(ENGINES.map((e) => [e, createRope({ headDim: D }, e)])) as Record<string, Rope>;

function invoke(rope: Rope, c: Call, async: boolean): unknown {
  const r = rope as unknown as Record<string, (...a: unknown[]) => unknown>;
  if ('x' in c) return async ? r.applyAsync.call(rope, c.x, c.opts) : r.apply.call(rope, c.x, c.opts);
  return async ? r.applyQKAsync.call(rope, c.q, c.k, c.opts) : r.applyQK.call(rope, c.q, c.k, c.opts);
}

/** A fixed valid apply + applyQK, to show a refused call left nothing behind in the Rope. */
function probe(rope: Rope): number[] {
  const x = fill(new Float32Array(T * H * D));
  const q = fill(new Float32Array(2 * T * QH * D)).map((v) => -v);
  const k = fill(new Float32Array(2 * T * KH * D)).map((v) => 2 * v);
  rope.apply(x, { heads: H, positions: [3, 1, 4] });
  rope.applyQK(q, k, { qHeads: QH, kHeads: KH, layout: 'bshd', batch: 2, positions: 9 });
  return [...x, ...q, ...k];
}
const golden = Object.fromEntries(ENGINES.map((e) => [e, probe(createRope({ headDim: D }, e))]));

async function refused(engine: string, kind: Kind, names: string, make: (t: Tracker) => Call, async: boolean): Promise<void> {
  const rope = ropes[engine];
  const t = new Tracker();
  const call = make(t);
  let err: unknown;
  if (async) {
    let p: unknown;
    expect(() => (p = invoke(rope, call, true)), 'an async call rejects, never throws').not.toThrow();
    expect(p).toBeInstanceOf(Promise);
    await (p as Promise<void>).then(() => (err = 'resolved'), (e) => (err = e));
  } else {
    try {
      invoke(rope, call, false);
      err = 'returned';
    } catch (e) {
      err = e;
    }
  }
  expect(err).toBeInstanceOf(kind);
  expect((err as Error).message).toContain(names);
  t.unchanged();
  expect(probe(rope)).toEqual(golden[engine]);
}

// Buffers resized or transferred under the native engine run in child processes, with 16 MiB
// buffers (test/safety/native-attacks.test.ts): a native write from a stale length would crash there,
// failing the test by name, where in process it would take the vitest worker down unnamed.
const MEMORY_ATTACK = /transferred|resizable|growable|shrinks|transfers/;
const inProcess = <C extends [string, ...unknown[]]>(engine: string, cases: C[]): C[] =>
  engine === 'native' ? cases.filter((c) => !MEMORY_ATTACK.test(c[0])) : cases;

describe.each(ENGINES)('%s engine', (engine) => {
  describe.each([false, true])('async %s', (async) => {
    it.each(inProcess(engine, gated(applyCases)))(`apply: %s`, (_n, kind, names, make) => refused(engine, kind, names, make, async));
    it.each(inProcess(engine, gated(qkCases)))(`applyQK: %s`, (_n, kind, names, make) => refused(engine, kind, names, make, async));
  });
});

// ---- user code that runs during a call ----------------------------------------------------------
// Getters on the options object, an own `length`/`buffer` on the array, a subclass, a Proxy of
// positions: whatever they change or claim, the call must refuse (naming the parameter) or rotate
// exactly what the real arrays hold, never write from a stale or false picture of them.
const mid: [string, Kind, RegExp, (t: Tracker) => Call][] = [
  ['a positions getter shrinks x (resizable buffer) after its length was read', R, /\bx\b|x\.length/, (t) => {
    const buf = resizable(4 * 48, 4 * 48);
    const x = t.track(fill(new Float32Array(buf)));
    return { x, opts: { heads: H, get positions() { buf.resize(4 * 24); return P; } } };
  }],
  ['a positions getter transfers x away', TE, /x's buffer/, (t) => {
    const x = t.x();
    return { x, opts: { heads: H, get positions() { t.transfer(x); return P; } } };
  }],
  ['a seqLen getter writes a negative position after positions were checked', R, /positions\[1\]/, (t) => {
    const p = Int32Array.of(1, 2, 3);
    return { x: t.x(), opts: { heads: H, positions: p, get seqLen() { p[1] = -7; return 10; } } };
  }],
  ['a Proxy positions array shrinks x while it is read', R, /\bx\b|x\.length/, (t) => {
    const buf = resizable(4 * 48, 4 * 48);
    const x = t.track(fill(new Float32Array(buf)));
    const positions = new Proxy([1, 2, 3], { get: (a, k) => (k === '2' && buf.resize(4 * 16), Reflect.get(a, k)) });
    return { x, opts: { heads: H, positions } };
  }],
  ['k with an own buffer property hiding that it overlaps q', R, /overlap/, (t) => {
    const all = t.f32(100);
    const k = all.subarray(40, 40 + T * KH * D);
    Object.defineProperty(k, 'buffer', { value: new ArrayBuffer(400) });
    return { q: all.subarray(0, T * QH * D), k, opts: { qHeads: QH, kHeads: KH, positions: P } };
  }],
];

describe.each(ENGINES)('%s engine: user code running inside a call', (engine) => {
  it.each(inProcess(engine, gated(mid)))('%s', async (_n, kind, names, make) => {
    for (const async of [false, true]) {
      const rope = ropes[engine];
      const t = new Tracker();
      let err: unknown = 'returned';
      try {
        await invoke(rope, make(t), async);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(kind);
      expect((err as Error).message).toMatch(names);
      t.unchanged();
      expect(probe(rope)).toEqual(golden[engine]);
    }
  });
});

// ---- hostile but valid: accepted, and exactly the plain-array result ------------------------------
describe.each(ENGINES)('%s engine: unusual buffers that are valid', (engine) => {
  const rope = () => ropes[engine];
  const plain = (n: number, opts: object) => {
    const a = fill(new Float32Array(n));
    rope().apply(a, { heads: H, positions: P, ...opts });
    return [...a];
  };

  it('a growable SharedArrayBuffer: a length-tracking view rotates every token it holds now, the rest stays', () => {
    if (!GROWABLE) return expect((growable(8, 16) as Partial<Growable>).grow).toBeUndefined();
    const buf = growable(4 * 2 * H * D, 4 * 8 * H * D);
    const x = new Float32Array(buf);
    fill(x);
    rope().apply(x, { heads: H, positions: P });
    expect([...x]).toEqual(plain(2 * H * D, {}));
    buf.grow(4 * 4 * H * D); // two more tokens, zero-filled
    fill(x);
    rope().apply(x, { heads: H, positions: P });
    expect(x.length).toBe(4 * H * D);
    expect([...x]).toEqual(plain(4 * H * D, {}));
    expect(buf.byteLength).toBe(4 * 4 * H * D);
  });

  it('a resizable ArrayBuffer grown and shrunk between calls, with a fixed view at an offset', () => {
    if (!RESIZABLE) return expect((resizable(8, 16) as Partial<Resizable>).resize).toBeUndefined();
    const buf = resizable(4 * 64, 4 * 256);
    const x = new Float32Array(buf, 4 * 8, T * H * D);
    fill(x);
    const guard = new Float32Array(buf, 0, 8);
    guard.fill(7);
    buf.resize(4 * 200);
    rope().apply(x, { heads: H, positions: P });
    expect([...x]).toEqual(plain(T * H * D, {}));
    expect([...guard]).toEqual(new Array(8).fill(7));
    expect(new Float32Array(buf, 4 * 56).every((v) => v === 0)).toBe(true);
  });

  it('huge strides and offsets are fine where they are never multiplied: one token, tokenStride 2^53-1', () => {
    const x = fill(new Float32Array(H * D));
    rope().apply(x, { heads: H, positions: 2 ** 31 - 1, tokens: 1, tokenStride: 2 ** 53 - 1 });
    const y = fill(new Float32Array(H * D));
    rope().apply(y, { heads: H, positions: 2 ** 31 - 1 });
    expect([...x]).toEqual([...y]);
  });

  it('an array whose own length property or subclass getter lies is measured by its real length', () => {
    const own = fill(new Float32Array(T * H * D));
    Object.defineProperty(own, 'length', { value: H * D }); // claims one token of three
    class Lying extends Float32Array {
      override get length(): number { return H * D; }
    }
    const sub = new Lying(T * H * D);
    fill(new Float32Array(sub.buffer));
    for (const x of [own, sub]) {
      rope().apply(x, { heads: H, positions: P });
      expect([...new Float32Array(x.buffer, 0, T * H * D)]).toEqual(plain(T * H * D, {}));
    }
  });

  it('an options getter that re-enters the same Rope: both calls rotate exactly as on their own', () => {
    const x = fill(new Float32Array(T * H * D));
    const y = fill(new Float32Array(2 * H * D));
    rope().apply(x, { heads: H, get positions() { rope().apply(y, { heads: H, positions: 40 }); return P; } } as never);
    expect([...x]).toEqual(plain(T * H * D, {}));
    expect([...y]).toEqual(plain(2 * H * D, { positions: 40 }));
  });

  it('one token, one head: the smallest call', () => {
    const x = fill(new Float32Array(D));
    rope().apply(x, { heads: 1, positions: 0 });
    expect([...x]).toEqual([...fill(new Float32Array(D))]); // position 0 is the identity
  });
});
