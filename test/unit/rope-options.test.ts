// lib/rope-options.ts: the constructor's option checks on their own (the Rope tests cover them
// through the constructor).
import { describe, expect, it } from 'vitest';
import { MAX_INV_FREQ } from '../../lib/limits.js';
import { checkRopeOptions } from '../../lib/rope-options.js';

describe('checkRopeOptions', () => {
  it('derives rotaryDim, base and style defaults and the sections', () => {
    const c = checkRopeOptions({ headDim: 128 });
    expect([c.headDim, c.rotaryDim, c.base, c.style, c.pairSection]).toEqual([128, 128, 10000, 'half', null]);
    expect(c.scaling.base.invFreq[1]).toBe(10000 ** (-2 / 128));
    const m = checkRopeOptions({ headDim: 8, mropeSection: [2, 1, 1] });
    expect(Array.from(m.pairSection!)).toEqual([0, 0, 1, 2]);
  });

  it.each([
    [{}, TypeError, /headDim is required/],
    [{ headDim: 7 }, RangeError, /headDim must be an even integer/],
    [{ headDim: 8, rotaryDim: 10 }, RangeError, /rotaryDim 10 is greater than headDim/],
    [{ headDim: 8, base: -1 }, RangeError, /base must be a finite number > 0/],
    [{ headDim: 8, style: 'neox' }, TypeError, /style must be 'half' or 'interleaved'/],
    [{ headDim: 8, maxPositions: 0 }, RangeError, /maxPositions/],
    [{ headDim: 8, base: 1e-300 }, RangeError, /base 1e-300 makes invFreq\[1\]/],
  ])('%j: %s naming the option', (opts, type, msg) => {
    expect(() => checkRopeOptions(opts as never)).toThrow(type);
    expect(() => checkRopeOptions(opts as never)).toThrow(msg);
  });

  it('refuses frequencies at MAX_INV_FREQ naming the scaling', () => {
    expect(() => checkRopeOptions({ headDim: 8, scaling: { type: 'linear', factor: 1 / MAX_INV_FREQ } })).toThrow(/scaling \{ type: 'linear', factor: /);
  });
});
