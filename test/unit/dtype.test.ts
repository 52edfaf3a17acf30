import { describe, expect, it } from 'vitest';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '../../lib/dtype.js';

// Independent reference: every finite non-negative value of the format, decoded by formula. Positive
// bit patterns are ordered like their values, so a value's index is its bit pattern.
function f16Value(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m === 0 ? Infinity : NaN) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}
function bf16Value(h: number): number {
  const e = (h >>> 7) & 0xff;
  const m = h & 0x7f;
  const v = e === 0 ? m * 2 ** -133 : e === 255 ? (m === 0 ? Infinity : NaN) : (1 + m / 128) * 2 ** (e - 127);
  return h & 0x8000 ? -v : v;
}

interface Format {
  name: string;
  value: (h: number) => number;
  encode: (v: number) => number;
  decode: (h: number) => number;
  maxFinite: number; // bit pattern of the largest finite value (the next pattern is +Infinity)
  overflowStep: number; // the value the next pattern would have with an unbounded exponent
  quietBit: number;
}
const F16: Format = { name: 'f16', value: f16Value, encode: numberToF16, decode: f16ToNumber, maxFinite: 0x7bff, overflowStep: 65536, quietBit: 0x200 };
const BF16: Format = { name: 'bf16', value: bf16Value, encode: numberToBf16, decode: bf16ToNumber, maxFinite: 0x7f7f, overflowStep: 2 ** 128, quietBit: 0x40 };

/** Nearest-even by comparing distances to the two neighbours (differences are exact here: the
 * neighbours are within a factor 2 of v, or zero). */
function refRound(fmt: Format, vals: Float64Array, v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= fmt.overflowStep) return sign | (fmt.maxFinite + 1);
  let lo = 0;
  let hi = fmt.maxFinite; // largest k with vals[k] <= a
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (vals[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  const below = vals[lo];
  const above = lo === fmt.maxFinite ? fmt.overflowStep : vals[lo + 1];
  const dBelow = a - below;
  const dAbove = above - a;
  const k = dBelow < dAbove ? lo : dAbove < dBelow ? lo + 1 : (lo & 1) === 0 ? lo : lo + 1;
  return sign | k;
}

function table(fmt: Format): Float64Array {
  const vals = new Float64Array(fmt.maxFinite + 1);
  for (let h = 0; h <= fmt.maxFinite; h++) vals[h] = fmt.value(h);
  return vals;
}

/** Deterministic pseudo-random doubles (xorshift) spread over every binade of the format. */
function* randomDoubles(count: number, minExp: number, maxExp: number): Generator<number> {
  let s = 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < count; i++) {
    const e = Math.floor(minExp + next() * (maxExp - minExp));
    const v = (1 + next() + next() * 2 ** -32) * 2 ** e;
    yield next() < 0.5 ? -v : v;
  }
}

for (const fmt of [F16, BF16]) {
  describe(`${fmt.name} conversions`, () => {
    const vals = table(fmt);

    it('decodes all 65536 bit patterns like the formula', () => {
      for (let h = 0; h < 65536; h++) {
        const want = fmt.value(h);
        const got = fmt.decode(h);
        if (Number.isNaN(want)) expect(got).toBeNaN();
        else if (!Object.is(got, want)) expect({ h, got }).toEqual({ h, got: want });
      }
    });

    it('round-trips every non-NaN bit pattern exactly (including -0, subnormals, Infinity)', () => {
      let checked = 0;
      for (let h = 0; h < 65536; h++) {
        if (Number.isNaN(fmt.value(h))) continue;
        const back = fmt.encode(fmt.decode(h));
        if (back !== h) expect({ h, back }).toEqual({ h, back: h });
        checked++;
      }
      expect(checked).toBeGreaterThan(63000);
    });

    it('keeps NaN a quiet NaN with its sign', () => {
      for (let h = 0; h < 65536; h++) {
        if (!Number.isNaN(fmt.value(h))) continue;
        const back = fmt.encode(fmt.decode(h));
        expect(Number.isNaN(fmt.value(back))).toBe(true);
        expect(back & 0x8000).toBe(h & 0x8000);
        expect(back & fmt.quietBit).toBe(fmt.quietBit);
      }
      expect(Number.isNaN(fmt.value(fmt.encode(NaN)))).toBe(true);
    });

    it('rounds exact ties to even and near-ties to the nearer neighbour (no double rounding)', () => {
      let n = 0;
      for (let k = 0; k <= fmt.maxFinite; k++) {
        const a = vals[k];
        const b = k === fmt.maxFinite ? fmt.overflowStep : vals[k + 1];
        const mid = (a + b) / 2; // exact in float64, and also a float32 value
        // mid ± a relative 2^-40 is still mid after Math.fround: rounding via float32 first would
        // treat it as a tie
        const eps = Math.max(mid * 2 ** -40, 2 ** -1074);
        for (const v of [mid, mid - eps, mid + eps, a + eps, b - eps]) {
          for (const x of [v, -v]) {
            const got = fmt.encode(x);
            const want = refRound(fmt, vals, x);
            if (got !== want) expect({ x, got }).toEqual({ x, got: want });
            n++;
          }
        }
      }
      expect(n).toBeGreaterThan(300000);
    });

    it('rounds random doubles like the reference, across subnormals, normals and overflow', () => {
      const [minExp, maxExp] = fmt === F16 ? [-30, 17] : [-140, 129];
      for (const x of randomDoubles(40000, minExp, maxExp)) {
        const got = fmt.encode(x);
        const want = refRound(fmt, vals, x);
        if (got !== want) expect({ x, got }).toEqual({ x, got: want });
      }
    });

    it('handles zeros, infinities and tiny values', () => {
      expect(fmt.encode(0)).toBe(0);
      expect(fmt.encode(-0)).toBe(0x8000);
      expect(fmt.encode(Infinity)).toBe(fmt.maxFinite + 1);
      expect(fmt.encode(-Infinity)).toBe(0x8000 | (fmt.maxFinite + 1));
      expect(fmt.encode(Number.MIN_VALUE)).toBe(0);
      expect(fmt.encode(-Number.MIN_VALUE)).toBe(0x8000);
      expect(fmt.encode(Number.MAX_VALUE)).toBe(fmt.maxFinite + 1);
    });
  });
}

describe('f16 boundaries', () => {
  it('overflows to Infinity from 65520 (the tie above 65504) up, not below', () => {
    expect(numberToF16(65504)).toBe(0x7bff);
    expect(numberToF16(65519.99)).toBe(0x7bff);
    expect(numberToF16(65520 - 2 ** -30)).toBe(0x7bff); // Math.fround gives 65520 here
    expect(numberToF16(65520)).toBe(0x7c00);
    expect(numberToF16(-65520)).toBe(0xfc00);
    expect(numberToF16(70000)).toBe(0x7c00);
  });

  it('rounds around the subnormal range', () => {
    expect(numberToF16(2 ** -24)).toBe(0x0001);
    expect(numberToF16(2 ** -25)).toBe(0x0000); // tie -> even (0)
    expect(numberToF16(2 ** -25 + 2 ** -60)).toBe(0x0001);
    expect(numberToF16(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 -> 2
    expect(numberToF16(2 ** -14 - 2 ** -25)).toBe(0x0400); // tie -> smallest normal (even)
    expect(numberToF16(2 ** -14 - 2 ** -25 - 2 ** -50)).toBe(0x03ff);
    expect(f16ToNumber(0x0001)).toBe(2 ** -24);
    expect(f16ToNumber(0x03ff)).toBe(1023 * 2 ** -24);
  });
});

describe('bf16 boundaries', () => {
  it('rounds 1 + ties to even and keeps float32 range', () => {
    expect(numberToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(numberToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(numberToBf16(1 + 2 ** -8 + 2 ** -40)).toBe(0x3f81); // fround(x) is the tie
    expect(numberToBf16(3.3895313892515355e38)).toBe(0x7f7f);
    expect(numberToBf16(2 ** 128 - 2 ** 119)).toBe(0x7f80); // tie above the largest finite
    expect(numberToBf16(2 ** 128 - 2 ** 119 - 2 ** 90)).toBe(0x7f7f);
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(bf16ToNumber(0xc000)).toBe(-2);
  });
});
