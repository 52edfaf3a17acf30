// The async slicer's learned rate (lib/async.ts nextRate): at most 2x per slice either way, and a
// slice too short to time proves no more than its bytes in 20 us.
import { describe, expect, it } from 'vitest';
import { nextRate } from '../../lib/async.js';

describe('the slicer learns its rate', () => {
  it('moves at most 2x per timed slice', () => {
    expect(nextRate(1000, 10_000, 1)).toBe(2000); // seen 10000/ms
    expect(nextRate(1000, 100, 1)).toBe(500); // seen 100/ms
    expect(nextRate(1000, 1500, 1)).toBe(1500);
  });

  it('grows on untimed slices sized from the rate, but only as far as their bytes prove', () => {
    // a slice sized for ~1 ms that took under 20 us: doubles
    expect(nextRate(1000, 1000, 0.01)).toBe(2000);
    // thousands of fixed tiny slices (the tests' setAsyncSliceTokens) stay bounded
    let rate = 1000;
    for (let i = 0; i < 5000; i++) rate = nextRate(rate, 64, 0);
    expect(rate).toBe(64 / 0.02);
    expect(Number.isFinite(rate)).toBe(true);
    // and never pull a learned rate down
    expect(nextRate(1e6, 64, 0)).toBe(1e6);
  });
});
