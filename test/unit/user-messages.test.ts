// What a user sees when something is off: the class's own name, a
// readable console.log(rope), and errors that point at the real mistake.
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Rope } from '../../lib/index.js';

const require = createRequire(import.meta.url);

describe('the Rope class as printed', () => {
  it('calling it without new names Rope (the built package, where a bundler once renamed it)', () => {
    // dist/ is built once per run by test/helpers/build-dist.ts
    const built = require('../../dist/index.cjs') as { Rope: (o: object) => unknown };
    expect(() => built.Rope({ headDim: 8 })).toThrow(/^Class constructor Rope cannot be invoked without 'new'$/);
  });

  it('console.log(rope) shows its settings', () => {
    const r = new Rope({ headDim: 64, rotaryDim: 32, base: 500000, style: 'interleaved', scaling: { type: 'linear', factor: 4 } });
    const s = inspect(r);
    expect(s).toMatch(/^Rope \{/);
    for (const part of ['headDim: 64', 'rotaryDim: 32', "style: 'interleaved'", 'base: 500000', "scalingType: 'linear'", 'attentionScaling: 1']) {
      expect(s).toContain(part);
    }
    expect(s).toMatch(/engine: '(native|wasm|js)'/);
  });
});

describe('errors that point at the mistake', () => {
  const rope = new Rope({ headDim: 8 });
  const q = new Float32Array(16);
  const k = new Float32Array(8);

  it('a missing headDim is "required", not "must be a number, got undefined"', () => {
    expect(() => new Rope({} as never)).toThrow(/^headDim is required/);
  });

  it('applyQK given heads suggests qHeads and kHeads, and writes nothing', () => {
    const before = q.slice();
    expect(() => rope.applyQK(q, k, { heads: 2, positions: 0 } as never)).toThrow(/qHeads and kHeads.*not heads/);
    expect(q).toEqual(before);
  });

  it('apply given qHeads/kHeads suggests heads or applyQK', () => {
    expect(() => rope.apply(q, { qHeads: 2, kHeads: 1, positions: 0 } as never)).toThrow(/takes heads.*applyQK/);
  });

  it('token counts are counted in words ("1 token", "2 tokens")', () => {
    // q: 2 tokens of 1 head; k: 1 token of 1 head.
    expect(() => rope.applyQK(q, k, { qHeads: 1, kHeads: 1, positions: 0 })).toThrow(/^k holds 1 token \(k\.length 8\) but q holds 2 tokens/);
  });
});
