// Data edge cases: NaN (f32/f16/bf16 payloads, signalling ones included), ±Infinity, -0,
// subnormals, values at and near each type's max. Every rotated element must follow the rotation
// formula written here in float64 with the engine's own float32 cos/sin (rope.cosSin):
//   x' = x*c - y*s, y' = y*c + x*s (s negated for the inverse), rounded once to the storage type
//   (f32: y*s and x*s rounded to f32 first, the kernels' contract in native/kernels/loops.h);
// NaN exactly where the formula gives NaN (any payload), and every element that is not rotated
// (pass-through dims past rotaryDim, the padding between token rows) bit for bit as it was.
// JS engine: exactly the formula. Native engine, every ISA this machine runs: f16/bf16 exactly the
// formula too; f32 within the parity tolerance (2 ulp of the row's largest finite
// |value|, infinities equal: max and Infinity are neighbours, 2 ordinal steps allowed), and always
// of the formula's sign, zeros included (item 11: no underflow may flip a sign).
// Then a random sweep of the places double rounding used to break (the 16-bit max, subnormals,
// ties, +-0): native bit for bit the JS engine, every ISA.
import { afterAll, describe, expect, it } from 'vitest';
import { createRope, nativeAddon, selectIsa, supportedIsas } from '../../lib/internal.js';
import type { DTypeName, RopeStyle } from '../../lib/types.js';
import { bf16Value, f16Value, rng, roundBf16, roundF16 } from '../helpers/engine-ref.js';

const HEAD_DIM = 16;
const ROT = 12; // partial: dims 12..15 pass through
const HALF = ROT / 2;
const Q_HEADS = 6;
const K_HEADS = 3;
const PAD = 3; // elements between token rows, filled with NaN payloads that must survive
const POSITIONS = [0, 1, 3, 100, 4097, 65535, 2 ** 24 + 1, 2 ** 31 - 1];
const TOKENS = POSITIONS.length;

// Specials as storage bit patterns. Signalling NaNs first: a kernel that pushes untouched data
// through arithmetic would quiet them.
const F32 = [
  0x7fa12345, 0xff800001, 0x7fc00000, 0xffc0beef, 0x7f800000, 0xff800000, 0x00000000, 0x80000000,
  0x00000001, 0x807fffff, 0x00400000, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x7f7ffffe, 0x7f000000,
  0x3f800000, 0xbf800000, 0x3f3504f3, 0x0d800000,
];
const F16 = [
  0x7d23, 0xfc01, 0x7e00, 0xfe5a, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x0001, 0x83ff, 0x0200, 0x0400,
  0x7bff, 0xfbff, 0x7bfe, 0x7800, 0x3c00, 0xbc00, 0x39a8, 0x1400,
];
const BF16 = [
  0x7f81, 0xff81, 0x7fc0, 0xffe5, 0x7f80, 0xff80, 0x0000, 0x8000, 0x0001, 0x807f, 0x0040, 0x0080,
  0x7f7f, 0xff7f, 0x7f7e, 0x7f00, 0x3f80, 0xbf80, 0x3f35, 0x0d80,
];

interface Fmt {
  specials: number[];
  decode(bits: number): number;
  round(v: number): number;
  ordinalSlack: number;
}
const f32Word = new Float32Array(1);
const u32Word = new Uint32Array(f32Word.buffer);
const FMT: Record<DTypeName, Fmt> = {
  f32: { specials: F32, decode: (b) => ((u32Word[0] = b), f32Word[0]), round: Math.fround, ordinalSlack: 2 },
  f16: { specials: F16, decode: f16Value, round: roundF16, ordinalSlack: 1 },
  bf16: { specials: BF16, decode: bf16Value, round: roundBf16, ordinalSlack: 1 },
};

/** Rotated dims: the specials paired in turn (q and k together hold every ordered pair); NaN
 * payloads everywhere else. */
function makeBits(dtype: DTypeName, heads: number, seed: number): Uint32Array {
  const sp = FMT[dtype].specials;
  const stride = heads * HEAD_DIM + PAD;
  const bits = new Uint32Array(TOKENS * stride);
  let pair = seed;
  for (let i = 0; i < bits.length; i++) bits[i] = sp[(i * 7 + seed) % 4]; // NaN payloads by default
  for (let t = 0; t < TOKENS; t++)
    for (let h = 0; h < heads; h++)
      for (let j = 0; j < HALF; j++, pair++) {
        const a = sp[pair % sp.length];
        const b = sp[Math.floor(pair / sp.length) % sp.length];
        bits[t * stride + h * HEAD_DIM + j] = a; // the engines read the pair per style below
        bits[t * stride + h * HEAD_DIM + HALF + j] = b;
      }
  return bits;
}

function toArray(dtype: DTypeName, bits: Uint32Array): Float32Array | Uint16Array {
  if (dtype !== 'f32') return Uint16Array.from(bits);
  const a = new Float32Array(bits.length);
  new Uint32Array(a.buffer).set(bits);
  return a;
}
const bitsOf = (a: Float32Array | Uint16Array) => (a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a);

// Index of the two elements of pair j in a head starting at `at`.
const pairAt = (style: RopeStyle, at: number, j: number): [number, number] =>
  style === 'half' ? [at + j, at + HALF + j] : [at + 2 * j, at + 2 * j + 1];

const ordinal = (dtype: DTypeName, b: number) => {
  const sign = dtype === 'f32' ? 0x80000000 : 0x8000;
  return b & sign ? -(b & (sign - 1)) : b;
};
const ulp32 = (x: number) => (x === 0 ? 2 ** -149 : Math.max(2 ** -149, 2 ** (Math.floor(Math.log2(x)) - 23)));

interface Setup {
  style: RopeStyle;
  dtype: DTypeName;
  inverse: boolean;
}

/** Rotates q and k (all specials) with `engine`; returns '' or the first disagreement. */
function check(engine: 'js' | 'native' | 'wasm', s: Setup, exact: boolean): string {
  const rope = createRope({ headDim: HEAD_DIM, rotaryDim: ROT, style: s.style }, engine);
  const table = createRope({ headDim: HEAD_DIM, rotaryDim: ROT }, 'js').cosSin(POSITIONS);
  const f = FMT[s.dtype];
  const inBits = [makeBits(s.dtype, Q_HEADS, 0), makeBits(s.dtype, K_HEADS, TOKENS * Q_HEADS * HALF)];
  const [q, k] = inBits.map((b) => toArray(s.dtype, b));
  const dtype = s.dtype === 'f32' ? undefined : s.dtype;
  rope.applyQK(q as Float32Array, k as Float32Array, {
    qHeads: Q_HEADS, kHeads: K_HEADS, positions: POSITIONS, tokens: TOKENS, inverse: s.inverse,
    qTokenStride: Q_HEADS * HEAD_DIM + PAD, kTokenStride: K_HEADS * HEAD_DIM + PAD, dtype,
  } as never);
  const outs = [q, k];
  for (let which = 0; which < 2; which++) {
    const heads = which === 0 ? Q_HEADS : K_HEADS;
    const stride = heads * HEAD_DIM + PAD;
    const before = inBits[which];
    const after = bitsOf(outs[which]);
    const rotated = new Uint8Array(before.length);
    for (let t = 0; t < TOKENS; t++)
      for (let h = 0; h < heads; h++) {
        const at = t * stride + h * HEAD_DIM;
        const exp: [number, number, number][] = []; // [index, expected value, formula value]
        let rowMax = 0;
        for (let j = 0; j < HALF; j++) {
          const c = table.cos[t * ROT + j];
          const sn = s.inverse ? -table.sin[t * ROT + j] : table.sin[t * ROT + j];
          const [ix, iy] = pairAt(s.style, at, j);
          const x = f.decode(before[ix]);
          const y = f.decode(before[iy]);
          const f32 = s.dtype === 'f32';
          exp.push([ix, f.round(x * c - (f32 ? Math.fround(y * sn) : y * sn)), 0], [iy, f.round(y * c + (f32 ? Math.fround(x * sn) : x * sn)), 0]);
          for (const v of [x, y]) if (Number.isFinite(v)) rowMax = Math.max(rowMax, Math.abs(v));
          rotated[ix] = rotated[iy] = 1;
        }
        for (const [i, e] of exp) {
          const a = f.decode(after[i]);
          const where = `${which ? 'k' : 'q'} t${t} (position ${POSITIONS[t]}) h${h} element ${i - at}: in [${f.decode(before[i])}], expected ${e}, got ${a}`;
          if (Number.isNaN(e) || Number.isNaN(a)) {
            if (Number.isNaN(e) !== Number.isNaN(a)) return `NaN-ness differs at ${where}`;
            continue;
          }
          if (exact || s.dtype !== 'f32') {
            if (!Object.is(a, e)) return `not the formula at ${where}`;
            continue;
          }
          if (negative(a) !== negative(e)) return `sign differs from the formula at ${where}`;
          const near = Math.abs(a - e) <= 2 * ulp32(rowMax) || Math.abs(ordinal(s.dtype, after[i]) - ordinal(s.dtype, encode(s.dtype, e))) <= f.ordinalSlack;
          if (!near) return `outside the tolerance at ${where} (row max ${rowMax})`;
        }
      }
    for (let i = 0; i < before.length; i++) {
      if (!rotated[i] && after[i] !== before[i]) return `${which ? 'k' : 'q'} element ${i} (not rotated) changed: 0x${before[i].toString(16)} -> 0x${after[i].toString(16)}`;
    }
  }
  return '';
}

const negative = (v: number) => v < 0 || Object.is(v, -0);

/** Storage bits of an exactly representable value (the expected ones are). */
function encode(dtype: DTypeName, v: number): number {
  if (dtype === 'f32') return (f32Word[0] = v), u32Word[0];
  const sp = dtype === 'f16' ? 0x7c00 : 0x7f80;
  // binary search over the ordered non-negative patterns, then the sign
  let lo = 0;
  let hi = sp;
  const m = Math.abs(v);
  const dec = FMT[dtype].decode;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (dec(mid) < m) lo = mid + 1;
    else hi = mid;
  }
  return (v < 0 || Object.is(v, -0) ? 0x8000 : 0) | lo;
}

const SETUPS: Setup[] = (['f32', 'f16', 'bf16'] as DTypeName[]).flatMap((dtype) =>
  (['half', 'interleaved'] as RopeStyle[]).flatMap((style) => [false, true].map((inverse) => ({ dtype, style, inverse }))),
);
const name = (s: Setup) => `${s.dtype} ${s.style}${s.inverse ? ' inverse' : ''}`;

describe('edge values', () => {
  it('the cos/sin used here are float32 of plain float64 math where float64 is exact enough', () => {
    // An independent check of the table the expectations use: positions below 2^17 with
    // |angle error| < 2^-35 cannot move a float32 rounding except at a near-tie (none here).
    const rope = createRope({ headDim: HEAD_DIM, rotaryDim: ROT }, 'js');
    const table = rope.cosSin(POSITIONS);
    const inv = rope.invFreq;
    for (let t = 0; t < TOKENS && POSITIONS[t] < 2 ** 17; t++)
      for (let j = 0; j < HALF; j++) {
        expect(table.cos[t * ROT + j]).toBe(Math.fround(Math.cos(POSITIONS[t] * inv[j])));
        expect(table.sin[t * ROT + j]).toBe(Math.fround(Math.sin(POSITIONS[t] * inv[j])));
      }
  });

  it('the specials cover NaN, ±Infinity, -0, subnormals and the max of each type', () => {
    for (const dtype of ['f32', 'f16', 'bf16'] as DTypeName[]) {
      const v = FMT[dtype].specials.map(FMT[dtype].decode);
      const max = dtype === 'f32' ? 3.4028234663852886e38 : dtype === 'f16' ? 65504 : 3.3895313892515355e38;
      expect(v.filter(Number.isNaN).length).toBe(4);
      expect(v).toContain(Infinity);
      expect(v).toContain(-Infinity);
      expect(v.some((x) => Object.is(x, -0))).toBe(true);
      expect(v).toContain(max);
      expect(v).toContain(-max);
      expect(v.filter((x) => x !== 0 && Math.abs(x) < (dtype === 'f16' ? 2 ** -14 : 2 ** -126)).length).toBeGreaterThanOrEqual(3);
    }
  });

  it.each(SETUPS)('JS engine, $dtype $style inverse=$inverse: exactly the formula', (s) => {
    expect(check('js', s, true)).toBe('');
  });

  const isas = nativeAddon ? supportedIsas() : [];
  const initial = nativeAddon?.isa();
  afterAll(() => {
    if (initial) selectIsa(initial);
  });
  if (nativeAddon) {
    it('the native engine runs at least the scalar kernels', () => expect(isas).toContain('scalar'));
  }
  describe.each(isas)('native engine, ISA %s', (isa) => {
    it.each(SETUPS)('$dtype $style inverse=$inverse: the formula (f32: within the parity tolerance, zeros exact)', (s) => {
      selectIsa(isa);
      expect(check('native', s, false), name(s)).toBe('');
    });
  });
  // The wasm engine's f32 runs in f32 without a fused op and redoes in double the lanes near zero
  // and overflow (native/kernels/wasm_simd128.cc): the specials pair up into exactly those.
  it.each(SETUPS)('wasm engine, $dtype $style inverse=$inverse: the formula (f32: within the parity tolerance, zeros exact)', (s) => {
    expect(check('wasm', s, false), name(s)).toBe('');
  });
});

// Where f32-then-16-bit rounding went wrong: elements near the 16-bit max (the f16
// x=0xfb27, y=0xfa80 at position 3, headDim 2 became +Infinity; exactly rounded it is 65504),
// subnormals and +-0, exact ties (cos/sin of position 0: 1 and 0), small positions; tiny f32 data
// whose products underflow. Native, every ISA, and the wasm engine must equal the JS engine bit
// for bit.
describe('native f16/bf16 bit for bit the JS engine (correct rounding), f32 zeros signed as JS', () => {
  const isas = nativeAddon ? supportedIsas() : [];
  const initial = nativeAddon?.isa();
  afterAll(() => {
    if (initial) selectIsa(initial);
  });

  it('the issue case: f16 0xfb27, 0xfa80 at position 3, headDim 2 is 65504 on the JS engine', () => {
    const x = new Uint16Array([0xfb27, 0xfa80]);
    createRope({ headDim: 2 }, 'js').apply(x, { heads: 1, positions: [3], tokens: 1, dtype: 'f16' } as never);
    expect(x[0]).toBe(0x7bff);
  });

  const edge = (dtype: DTypeName, r: () => number): number => {
    const pick = Math.floor(r() * 5);
    const sign = r() < 0.5 ? (dtype === 'f32' ? 0x80000000 : 0x8000) : 0;
    if (dtype === 'f32') return (sign | Math.floor(r() * 64)) >>> 0; // +-0 and tiny subnormals
    const max = dtype === 'f16' ? 0x7bff : 0x7f7f;
    const sub = dtype === 'f16' ? 0x3ff : 0x7f;
    if (pick <= 1) return sign | (max - Math.floor(r() * 0x200));
    if (pick === 2) return sign | Math.floor(r() * (sub + 1));
    if (pick === 3) return sign | (sub + 1 + Math.floor(r() * 5 * (sub + 1)));
    return sign | (0x3000 + Math.floor(r() * 0x1000));
  };

  function sweep(engine: 'native' | 'wasm', dtype: DTypeName): void {
    const r = rng(dtype === 'f16' ? 12 : dtype === 'bf16' ? 13 : 14);
    const positions = [0, 1, 2, 3, 7, 100, 4097, 65535];
    for (const style of ['half', 'interleaved'] as RopeStyle[])
      for (const headDim of [2, 8, 34, 64])
        for (const inverse of [false, true]) {
          const heads = 3;
          const bits = new Uint32Array(positions.length * heads * headDim).map(() => edge(dtype, r));
          const [js, nat] = [toArray(dtype, bits), toArray(dtype, bits)];
          const opts = { heads, positions, tokens: positions.length, inverse, dtype: dtype === 'f32' ? undefined : dtype } as never;
          createRope({ headDim, style }, 'js').apply(js as Float32Array, opts);
          createRope({ headDim, style }, engine).apply(nat as Float32Array, opts);
          const [a, b] = [bitsOf(js), bitsOf(nat)];
          for (let i = 0; i < a.length; i++) {
            const where = `${dtype} ${style} headDim ${headDim}${inverse ? ' inverse' : ''} element ${i}: in 0x${bits[i].toString(16)}`;
            const nan = Number.isNaN(FMT[dtype].decode(a[i]));
            if (dtype === 'f32' && FMT.f32.decode(b[i]) !== 0) continue; // f32: only zeros are exact
            expect(nan ? 'NaN' : `0x${b[i].toString(16)}`, where).toBe(nan ? 'NaN' : `0x${a[i].toString(16)}`);
          }
        }
  }

  describe.each(isas)('ISA %s', (isa) => {
    it.each(['f16', 'bf16', 'f32'] as DTypeName[])('%s, both styles, forward and inverse', (dtype) => {
      selectIsa(isa);
      sweep('native', dtype);
    });
  });
  it.each(['f16', 'bf16', 'f32'] as DTypeName[])('wasm engine, %s, both styles, forward and inverse', (dtype) => sweep('wasm', dtype));
});
