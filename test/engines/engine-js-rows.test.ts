// The JS engine's row loops at their edges: the tail pair of an odd pair count, float32 results that
// land exactly on a tie of the 16-bit format (double rounding), NaN and Infinity inputs. References
// are plain float64 math and the independent rounding in helpers/engine-ref.ts.
import { describe, expect, it } from 'vitest';
import { createJsEngine } from '../../lib/engine-js.js';
import { DTYPE_BF16, DTYPE_F16, STYLE_HALF, STYLE_INTERLEAVED, type CallPlan, type DType, type RopeGeometry, type StyleCode } from '../../lib/types.js';
import { DTYPES, bitsOf, decode, f32CosSin, fillRandom, referenceRotation, rng, storeRounded, shortInvFreq } from '../helpers/engine-ref.js';

const STYLES: [StyleCode, string][] = [
  [STYLE_HALF, 'half'],
  [STYLE_INTERLEAVED, 'interleaved'],
];


/** A plan over one [tokens, heads, headDim] tensor (q only), positions positionOffset + t. */
function plan(data: Float32Array | Uint16Array, dtype: DType, heads: number, headDim: number, tokens: number, invFreq: Float64Array, positionOffset: number, attentionScaling: number, inverse = false): CallPlan {
  return {
    q: { data, dtype, heads, offset: 0, batchStride: 0, tokenStride: heads * headDim, headStride: headDim },
    k: null,
    batch: 1,
    tokens,
    inverse,
    positions: null,
    positionOffset,
    positionsBatchStride: 0,
    positionsRowStride: 0,
    invFreq,
    attentionScaling,
    threads: 1,
  };
}

const geometry = (headDim: number, rotaryDim: number, style: StyleCode): RopeGeometry => ({ headDim, rotaryDim, style, pairSection: null, sectionRows: 1 });

/** Float32 bits, read independently of lib/dtype.ts. */
function f32BitsOf(v: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, v);
  return dv.getUint32(0);
}

describe('JS engine row loops', () => {
  // The loops take two pairs per step, plus a tail pair when rotaryDim/2 is odd.
  for (const rd of [2, 6, 10]) {
    for (const [style, styleName] of STYLES) {
      it(`rotaryDim ${rd} (${rd / 2} pairs), ${styleName}, every dtype: bit-exact, dims past rotaryDim untouched`, () => {
        const f = shortInvFreq(10000, rd);
        const headDim = rd + 4;
        for (const dtype of DTYPES) {
          const data = dtype === DTYPE_BF16 || dtype === DTYPE_F16 ? new Uint16Array(3 * 3 * headDim) : new Float32Array(3 * 3 * headDim);
          fillRandom(data, dtype, rng(40 + rd + dtype));
          const before = data.slice();
          const p = plan(data, dtype, 3, headDim, 3, f, 4093, 1.25, dtype === DTYPE_BF16);
          const g = geometry(headDim, rd, style);
          const expected = referenceRotation(p, p.q, g, before, f32CosSin(f, 1.25));
          createJsEngine(g).apply(p);
          const gotBits = bitsOf(data);
          const oldBits = bitsOf(before);
          for (let i = 0; i < data.length; i++) {
            const want = expected.get(i);
            if (want === undefined) {
              if (gotBits[i] !== oldBits[i]) expect({ untouched: i, bits: gotBits[i] }).toEqual({ untouched: i, bits: oldBits[i] });
            } else if (!Object.is(decode(dtype, data, i), storeRounded(dtype, want))) {
              expect({ dtype, i, got: decode(dtype, data, i) }).toEqual({ dtype, i, got: storeRounded(dtype, want) });
            }
          }
          expect(expected.size).toBe(3 * 3 * rd);
        }
      });
    }
  }

  // At position 0, cos = 1 and sin = 0, so with attentionScaling c (a float32) every output is x*c,
  // exact in float64. For these c and x, fround(x*c) is inexact and lands exactly on a tie of the
  // 16-bit format, and rounding that float32 again goes the wrong way.
  for (const dtype of [DTYPE_BF16, DTYPE_F16] as DType[]) {
    const name = dtype === DTYPE_BF16 ? 'bf16' : 'f16';
    it(`${name}: rounds x*c once from float64 where fround(x*c) is exactly on a ${name} tie`, () => {
      const dropped = dtype === DTYPE_BF16 ? 16 : 13; // float32 mantissa bits the format drops
      const mantBits = 23 - dropped;
      // found by searching c = 1 + k*2^-23 (odd k) and x in [1, 2) with this format's mantissa
      const scale = 1 + (dtype === DTYPE_BF16 ? 18079 : 2049) * 2 ** -23;
      const tieX = dtype === DTYPE_BF16 ? 1 + 104 / 128 : 1 + 1023 / 1024;
      const v = tieX * scale;
      expect(Math.fround(v)).not.toBe(v);
      expect(f32BitsOf(Math.fround(v)) & ((1 << dropped) - 1)).toBe(1 << (dropped - 1));
      expect(storeRounded(dtype, Math.fround(v))).not.toBe(storeRounded(dtype, v));

      const xs = [tieX, 1 + 3 / (1 << mantBits), 1.5]; // and two ordinary values
      const rd = 10; // 5 pairs: two steps of two, and the tail
      const heads = 3;
      const data = new Uint16Array(heads * rd);
      const one = dtype === DTYPE_BF16 ? 0x3f80 : 0x3c00; // bits of 1.0; x in [1, 2) adds its mantissa
      for (let i = 0; i < data.length; i++) {
        data[i] = (one | Math.round((xs[i % xs.length] - 1) * (1 << mantBits))) | (i % 4 === 3 ? 0x8000 : 0);
      }
      const before = data.slice();
      for (const [style, styleName] of STYLES) {
        data.set(before);
        createJsEngine(geometry(rd, rd, style)).apply(plan(data, dtype, heads, rd, 1, shortInvFreq(10000, rd), 0, scale));
        for (let i = 0; i < data.length; i++) {
          const want = storeRounded(dtype, decode(dtype, before, i) * scale);
          const got = decode(dtype, data, i);
          if (got !== want) expect({ styleName, i, got }).toEqual({ styleName, i, got: want });
        }
      }
    });
  }

  it('bf16 and f16: NaN inputs give quiet NaNs, Infinity inputs the correctly signed Infinity', () => {
    const rd = 8;
    const f = shortInvFreq(10000, rd);
    for (const dtype of [DTYPE_BF16, DTYPE_F16] as DType[]) {
      // quiet, negative with payload, signalling; then +-Infinity
      const special = dtype === DTYPE_BF16 ? [0x7fc0, 0xffc1, 0x7f81, 0x7f80, 0xff80] : [0x7e00, 0xfe01, 0x7c01, 0x7c00, 0xfc00];
      const quiet = dtype === DTYPE_BF16 ? 0x7fc0 : 0x7e00;
      for (const [style] of STYLES) {
        const data = new Uint16Array(4 * 2 * rd);
        fillRandom(data, dtype, rng(5 + dtype));
        for (let i = 0; i < data.length; i += 3) data[i] = special[(i / 3) % special.length];
        const before = data.slice();
        const p = plan(data, dtype, 2, rd, 4, f, 7, 1);
        const g = geometry(rd, rd, style);
        const expected = referenceRotation(p, p.q, g, before, f32CosSin(f, 1));
        createJsEngine(g).apply(p);
        let nans = 0;
        let infs = 0;
        for (let i = 0; i < data.length; i++) {
          const want = expected.get(i)!;
          if (Number.isNaN(want)) {
            nans++;
            if ((data[i] & quiet) !== quiet) expect({ i, bits: data[i].toString(16) }).toEqual({ i, bits: 'a quiet NaN' });
          } else {
            if (!Number.isFinite(want)) infs++;
            const got = decode(dtype, data, i);
            if (!Object.is(got, storeRounded(dtype, want))) expect({ i, got }).toEqual({ i, got: storeRounded(dtype, want) });
          }
        }
        expect(nans).toBeGreaterThan(0);
        expect(infs).toBeGreaterThan(0);
      }
    }
  });
});
