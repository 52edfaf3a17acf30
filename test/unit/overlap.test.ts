// rotatedRowsOverlap (q/k views of one buffer) against brute force: every rotated element listed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rotatedRowsOverlap } from '../../lib/overlap.js';
import type { TensorPlan } from '../../lib/types.js';

interface Side {
  base: number; // element offset of the view in the buffer
  heads: number;
  tokenStride: number; // 0: the layout's default
}

function plan(buf: ArrayBuffer, s: Side, layout: string, batch: number, tokens: number, D: number): TensorPlan {
  const row = s.heads * D;
  const ts = layout === 'bhsd' ? D : s.tokenStride || row;
  const hs = layout === 'bhsd' ? tokens * D : D;
  const bs = layout === 'bhsd' ? s.heads * tokens * D : tokens * ts;
  const extent = (batch - 1) * bs + (tokens - 1) * ts + (s.heads - 1) * hs + D;
  return {
    data: new Float32Array(buf, 4 * s.base, extent),
    dtype: 0,
    heads: s.heads,
    offset: 0,
    batchStride: layout === 'shd' ? 0 : bs,
    tokenStride: ts,
    headStride: hs,
  };
}

function rotatedElements(t: TensorPlan, base: number, batch: number, tokens: number, R: number): Set<number> {
  const out = new Set<number>();
  for (let b = 0; b < batch; b++)
    for (let s = 0; s < tokens; s++)
      for (let h = 0; h < t.heads; h++)
        for (let d = 0; d < R; d++) out.add(base + b * t.batchStride + s * t.tokenStride + h * t.headStride + d);
  return out;
}

const side = (D: number) =>
  fc.record({
    base: fc.integer({ min: 0, max: 80 }),
    heads: fc.integer({ min: 1, max: 4 }),
    extra: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 3 * D })), // -1: default stride
  });

describe('rotatedRowsOverlap', () => {
  it('agrees with brute force (fused QKV, shared and different strides, all layouts)', () => {
    const arb = fc
      .record({ half: fc.integer({ min: 1, max: 4 }), passDims: fc.integer({ min: 0, max: 2 }) })
      .chain(({ half, passDims }) => {
        const D = 2 * half + 2 * passDims;
        return fc.record({
          D: fc.constant(D),
          R: fc.constant(2 * half),
          layout: fc.constantFrom('shd', 'bshd', 'bhsd'),
          batch: fc.integer({ min: 1, max: 3 }),
          tokens: fc.integer({ min: 1, max: 4 }),
          q: side(D),
          k: side(D),
          sameStride: fc.boolean(),
          fused: fc.boolean(),
        });
      });
    let overlapping = 0;
    let fusedSeen = 0;
    fc.assert(
      fc.property(arb, (c) => {
        const batch = c.layout === 'shd' ? 1 : c.batch;
        const q: Side = { base: c.q.base, heads: c.q.heads, tokenStride: c.q.extra < 0 ? 0 : c.q.heads * c.D + c.q.extra };
        const k: Side = { base: c.k.base, heads: c.k.heads, tokenStride: c.k.extra < 0 ? 0 : c.k.heads * c.D + c.k.extra };
        if (c.fused && c.layout !== 'bhsd') {
          // the fused-QKV shape: one stride for both, k a few heads after q's start
          const S = (q.heads + k.heads + 1) * c.D + Math.max(0, c.q.extra);
          q.tokenStride = k.tokenStride = S;
          k.base = q.base + (c.k.base % (S + 2 * c.D));
          fusedSeen++;
        } else if (c.sameStride && c.layout !== 'bhsd') {
          k.tokenStride = q.tokenStride = Math.max(q.tokenStride || q.heads * c.D, k.heads * c.D);
        }
        const buf = new ArrayBuffer(4 * 4096);
        const qp = plan(buf, q, c.layout, batch, c.tokens, c.D);
        const kp = plan(buf, k, c.layout, batch, c.tokens, c.D);
        const qs = rotatedElements(qp, q.base, batch, c.tokens, c.R);
        let brute = false;
        for (const e of rotatedElements(kp, k.base, batch, c.tokens, c.R)) if (qs.has(e)) brute = true;
        if (brute) overlapping++;
        expect(rotatedRowsOverlap(batch, c.tokens, c.R, qp, kp)).toBe(brute);
      }),
      { numRuns: 3000, seed: 20241122 },
    );
    // the generator reaches both answers and the fused path
    expect(overlapping).toBeGreaterThan(100);
    expect(overlapping).toBeLessThan(2900);
    expect(fusedSeen).toBeGreaterThan(300);
  });
});
