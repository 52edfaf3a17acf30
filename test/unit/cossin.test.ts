import { describe, expect, it } from 'vitest';
import { BLOCK, CosSinCache, cosSinExact, cosSinTable, type CacheBudget } from '../../lib/cossin.js';
import { STYLE_HALF, type RopeGeometry } from '../../lib/types.js';

function invFreqOf(base: number, rotaryDim: number): Float64Array {
  const f = new Float64Array(rotaryDim / 2);
  for (let j = 0; j < f.length; j++) f[j] = Math.pow(base, (-2 * j) / rotaryDim);
  return f;
}

// ---- high-precision reference: exact angle, reduced by 2*pi in 300-bit fixed point -----------
const FRAC = 300n;
const ONE = 1n << FRAC;
function atanInv(x: bigint): bigint {
  // atan(1/x) = sum (-1)^k / ((2k+1) x^(2k+1))
  let sum = 0n;
  let pow = ONE / x;
  const x2 = x * x;
  for (let k = 0n; pow !== 0n; k++) {
    const term = pow / (2n * k + 1n);
    sum += k % 2n === 0n ? term : -term;
    pow /= x2;
  }
  return sum;
}
const PI = 16n * atanInv(5n) - 4n * atanInv(239n); // Machin
const TWO_PI = 2n * PI;

/** cos and sin of position*f where the product is taken exactly (f's binary expansion). */
function refCosSin(position: number, f: number): [number, number] {
  let e = Math.floor(Math.log2(f)) - 52;
  let m = f / 2 ** e;
  while (!Number.isInteger(m)) {
    e -= 1;
    m = f / 2 ** e;
  }
  const angle = (BigInt(position) * BigInt(m)) << (FRAC + BigInt(e)); // e > -300 for the f used
  let r = angle % TWO_PI;
  if (r > PI) r -= TWO_PI;
  const rd = Number(r >> 200n) / 2 ** 100;
  return [Math.cos(rd), Math.sin(rd)];
}

describe('cosSinExact', () => {
  const cases: Array<[number, number]> = [];
  const fs = [1, 0.1, 1 / 3, ...Array.from(invFreqOf(500000, 128)).filter((_, j) => j % 9 === 1)];
  for (const p of [2 ** 30 + 12345, 2 ** 31 - 1, 16777215, 2000000, 123456789, 4095]) for (const f of fs) cases.push([p, f]);

  it('matches a 300-bit reduction of the exact angle to 1e-15 for positions up to 2^31', () => {
    const out = new Float64Array(2);
    let naiveWorst = 0;
    for (const [p, f] of cases) {
      const [c, s] = refCosSin(p, f);
      cosSinExact(p, f, out);
      expect(Math.abs(out[0] - c), `cos p=${p} f=${f}`).toBeLessThan(1e-15);
      expect(Math.abs(out[1] - s), `sin p=${p} f=${f}`).toBeLessThan(1e-15);
      naiveWorst = Math.max(naiveWorst, Math.abs(Math.cos(p * f) - c));
    }
    // the rounded float64 product alone is visibly off at these positions: the test can tell
    expect(naiveWorst).toBeGreaterThan(1e-9);
  });

  it('gives float32 rows equal to the correctly rounded reference', () => {
    const budget: CacheBudget = { used: 0, cap: 1 << 20 };
    const f = Float64Array.from(fs);
    const cache = new CosSinCache(f, 1, budget);
    const scratch = new Float32Array(2 * f.length);
    for (const p of [2 ** 30 + 12345, 2 ** 31 - 1, 16777215, 123456789]) {
      cache.row(p, scratch, 0);
      for (let j = 0; j < f.length; j++) {
        const [c, s] = refCosSin(p, f[j]);
        expect(cache.tab[cache.off + j]).toBe(Math.fround(c));
        expect(cache.tab[cache.off + f.length + j]).toBe(Math.fround(s));
      }
    }
  });
});

describe('CosSinCache', () => {
  const invFreq = invFreqOf(10000, 64);
  const half = invFreq.length;

  it('rows agree with a plain float64 Math.cos formula, scaled', () => {
    const cache = new CosSinCache(invFreq, 1.25, { used: 0, cap: 1 << 24 });
    const scratch = new Float32Array(2 * half);
    for (const p of [0, 1, 2, 63, 64, 65, 777, 4095, 100000]) {
      cache.row(p, scratch, 0);
      for (let j = 0; j < half; j++) {
        expect(Math.abs(cache.tab[cache.off + j] - 1.25 * Math.cos(p * invFreq[j]))).toBeLessThan(8e-8);
        expect(Math.abs(cache.tab[cache.off + half + j] - 1.25 * Math.sin(p * invFreq[j]))).toBeLessThan(8e-8);
      }
    }
    cache.row(0, scratch, 0);
    expect(cache.tab[cache.off]).toBe(1.25);
    expect(cache.tab[cache.off + half]).toBe(0);
  });

  it('never holds more bytes than its budget, and rows past it are still right', () => {
    const blockBytes = BLOCK * 2 * half * 4;
    const budget: CacheBudget = { used: 0, cap: 3 * blockBytes + 100 };
    const cache = new CosSinCache(invFreq, 1, budget);
    const scratch = new Float32Array(4 + 2 * half);
    let fromScratch = 0;
    for (let blk = 0; blk < 10; blk++) {
      for (const p of [blk * BLOCK, blk * BLOCK + 17, blk * 1000 + 5]) {
        cache.row(p, scratch, 4);
        if (cache.tab === scratch) {
          fromScratch++;
          expect(cache.off).toBe(4);
        }
        for (let j = 0; j < half; j += 5) {
          expect(Math.abs(cache.tab[cache.off + j] - Math.cos(p * invFreq[j]))).toBeLessThan(8e-8);
        }
        expect(cache.bytes).toBeLessThanOrEqual(budget.cap);
        expect(budget.used).toBeLessThanOrEqual(budget.cap);
      }
    }
    expect(cache.bytes).toBe(3 * blockBytes);
    expect(fromScratch).toBeGreaterThan(0);
    cache.release();
    expect(budget.used).toBe(0);
  });

  it('a cached row is the same array region when asked again (computed once)', () => {
    const cache = new CosSinCache(invFreq, 1, { used: 0, cap: 1 << 24 });
    const scratch = new Float32Array(2 * half);
    cache.row(300, scratch, 0);
    const tab = cache.tab;
    const off = cache.off;
    tab[off] = 42; // poison: a recomputation would overwrite it
    cache.row(5, scratch, 0);
    cache.row(300, scratch, 0);
    expect(cache.tab).toBe(tab);
    expect(cache.off).toBe(off);
    expect(cache.tab[off]).toBe(42);
  });

  it('matches() only its own invFreq contents and attentionScaling', () => {
    const f = Float64Array.from(invFreq);
    const cache = new CosSinCache(f, 1, { used: 0, cap: 1 << 20 });
    expect(cache.matches(f, 1)).toBe(true);
    expect(cache.matches(f, 2)).toBe(false);
    expect(cache.matches(Float64Array.from(f), 1)).toBe(false); // another array
    f[3] *= 2; // edited in place
    expect(cache.matches(f, 1)).toBe(false);
  });
});

describe('cosSinTable', () => {
  it("is Hugging Face's [tokens, rotaryDim] layout with attentionScaling", () => {
    const rotaryDim = 32;
    const half = rotaryDim / 2;
    const invFreq = invFreqOf(10000, rotaryDim);
    const geometry: RopeGeometry = { headDim: 64, rotaryDim, style: STYLE_HALF, pairSection: null, sectionRows: 1 };
    const positions = Int32Array.from([0, 3, 4095, 70000]);
    const { cos, sin } = cosSinTable(invFreq, 0.5, geometry, positions, 4, 4);
    expect(cos.length).toBe(4 * rotaryDim);
    expect(sin.length).toBe(4 * rotaryDim);
    for (let t = 0; t < 4; t++) {
      for (let j = 0; j < half; j++) {
        const a = positions[t] * invFreq[j];
        expect(Math.abs(cos[t * rotaryDim + j] - 0.5 * Math.cos(a))).toBeLessThan(4e-8);
        expect(Math.abs(sin[t * rotaryDim + j] - 0.5 * Math.sin(a))).toBeLessThan(4e-8);
        expect(cos[t * rotaryDim + half + j]).toBe(cos[t * rotaryDim + j]);
        expect(sin[t * rotaryDim + half + j]).toBe(sin[t * rotaryDim + j]);
      }
    }
  });

  it('reads pair j from positions row pairSection[j] (M-RoPE)', () => {
    const rotaryDim = 16;
    const half = 8;
    const invFreq = invFreqOf(1000000, rotaryDim);
    const pairSection = Uint8Array.from([0, 0, 1, 1, 1, 2, 2, 2]);
    const geometry: RopeGeometry = { headDim: 16, rotaryDim, style: STYLE_HALF, pairSection, sectionRows: 3 };
    const tokens = 2;
    const positions = Int32Array.from([5, 6, 100, 200, 3000, 4000]); // rows t, h, w
    const { cos, sin } = cosSinTable(invFreq, 1, geometry, positions, tokens, tokens);
    for (let t = 0; t < tokens; t++) {
      for (let j = 0; j < half; j++) {
        const a = positions[pairSection[j] * tokens + t] * invFreq[j];
        expect(Math.abs(cos[t * rotaryDim + j] - Math.cos(a))).toBeLessThan(8e-8);
        expect(Math.abs(sin[t * rotaryDim + half + j] - Math.sin(a))).toBeLessThan(8e-8);
      }
    }
  });
});
