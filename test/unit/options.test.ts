// Every option object a caller passes is read against the keys its call form understands: an
// unknown key is refused by name, with the nearest known key, before anything is written, on every
// engine and every call form (constructor, scaling objects, apply/applyQK sync, async, prepared).
import { describe, expect, it } from 'vitest';
import { createRope, Rope } from '../../lib/rope.js';
import { nativeAddon } from '../../lib/backend.js';
import { APPLY_QK_KEYS, CACHE_KEYS, checkApplyQKKeys, knownCacheKeys, nearest, SCALING_KEYS } from '../../lib/options.js';

const engines = (nativeAddon !== null ? ['native', 'wasm', 'js'] : ['wasm', 'js']) as ('native' | 'wasm' | 'js')[];
const bytes = (a: ArrayBufferView): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

function filled(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i + 1);
  return a;
}

describe('new Rope refuses unknown option keys by name', () => {
  it.each([
    [{ headDim: 128, rope_theta: 500000 }, "'rope_theta'", "did you mean 'base'"],
    [{ headDim: 128, bsae: 500000 }, "'bsae'", "did you mean 'base'"],
    [{ headDim: 128, rotary_dim: 64 }, "'rotary_dim'", "did you mean 'rotaryDim'"],
    [{ headDim: 128, partial_rotary_factor: 0.5 }, "'partial_rotary_factor'", "did you mean 'rotaryDim'"],
    [{ headDim: 128, rope_scaling: { type: 'linear', factor: 2 } }, "'rope_scaling'", "did you mean 'scaling'"],
    [{ headDim: 128, Style: 'interleaved' }, "'Style'", "did you mean 'style'"],
    [{ head_dim: 128 }, "'head_dim'", "did you mean 'headDim'"],
  ])('%j', (opts, key, hint) => {
    for (const engine of engines) {
      expect(() => createRope(opts as never, engine)).toThrow(TypeError);
      expect(() => createRope(opts as never, engine)).toThrow(`new Rope does not take the option ${key}`);
      expect(() => createRope(opts as never, engine)).toThrow(hint);
    }
  });

  it('a key far from every known one gets no guess, only the list', () => {
    expect(() => new Rope({ headDim: 8, zzzzzzzzzz: 1 } as never)).toThrow(
      "new Rope does not take the option 'zzzzzzzzzz' (it takes headDim, rotaryDim, base, style, scaling, maxPositions, mropeSection, mropeInterleaved, rotarySlice)",
    );
  });

  it('an inherited enumerable key is read like an own one, so it is refused too', () => {
    const o = Object.create({ invFreq: [1] }) as { headDim: number };
    o.headDim = 8;
    expect(() => new Rope(o)).toThrow("new Rope does not take the option 'invFreq'");
  });

  it('every known key is accepted (the list is the options the constructor reads)', () => {
    const r = new Rope({
      headDim: 8, rotaryDim: 8, base: 100, style: 'half', scaling: { type: 'linear', factor: 2 },
      maxPositions: 64, mropeSection: [2, 1, 1], mropeInterleaved: false, rotarySlice: 'leading',
    });
    expect(r.base).toBe(100);
    expect(r.invFreq[1]).toBeCloseTo(100 ** (-2 / 8) / 2, 15);
  });
});

describe('scaling objects refuse unknown keys per type', () => {
  it.each([
    [{ type: 'linear', factor: 2, factr: 3 }, "'factr'", "did you mean 'factor'"],
    [{ type: 'yarn', factor: 4, originalMaxPositions: 4096, beta_fast: 16 }, "'beta_fast'", "did you mean 'betaFast'"],
    [{ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192, original_max_position_embeddings: 8192 }, "'original_max_position_embeddings'", "did you mean 'originalMaxPositions'"],
    [{ type: 'dynamic', factor: 2, originalMaxPositions: 2048, rope_type: 'dynamic' }, "'rope_type'", "did you mean 'type'"],
    [{ type: 'proportional', rotaryFraction: 0.5, partial_rotary_factor: 0.5 }, "'partial_rotary_factor'", ''],
    [{ type: 'default', factor: 2 }, "'factor'", ''],
  ])('%j', (scaling, key, hint) => {
    const t = (scaling as { type: string }).type;
    expect(() => new Rope({ headDim: 128, scaling } as never)).toThrow(`scaling { type: '${t}' } does not take the option ${key}`);
    if (hint) expect(() => new Rope({ headDim: 128, scaling } as never)).toThrow(hint);
  });

  it('every scaling type has its key list', () => {
    for (const t of ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope', 'proportional', 'freqFactors']) {
      expect(SCALING_KEYS[t].has('type')).toBe(true);
    }
  });
});

describe.each(engines)('calls refuse unknown option keys, writing nothing (%s engine)', (engine) => {
  const rope = createRope({ headDim: 8 }, engine);
  const q = filled(4 * 8 * 2);
  const k = filled(2 * 8 * 2);
  const q0 = bytes(q);
  const k0 = bytes(k);
  const unchanged = (): void => {
    expect(bytes(q)).toBe(q0);
    expect(bytes(k)).toBe(k0);
  };

  it('apply { invers: true }', () => {
    expect(() => rope.apply(q, { heads: 4, positions: 0, invers: true } as never)).toThrow(
      "apply does not take the option 'invers': did you mean 'inverse'?",
    );
    unchanged();
  });

  it('apply { qHeads } names applyQK', () => {
    expect(() => rope.apply(q, { qHeads: 4, positions: 0 } as never)).toThrow('to rotate q and k in one call use applyQK');
    unchanged();
  });

  it('applyQK { invers: true } (the prepared-step fast path reads options first)', () => {
    expect(() => rope.applyQK(q, k, { qHeads: 4, kHeads: 2, positions: 0, invers: true } as never)).toThrow(
      "applyQK does not take the option 'invers': did you mean 'inverse'?",
    );
    unchanged();
  });

  it('applyQK with a layout goes the full path and refuses too', () => {
    expect(() => rope.applyQK(q, k, { qHeads: 4, kHeads: 2, positions: 0, layout: 'shd', position: 3 } as never)).toThrow(
      "applyQK does not take the option 'position': did you mean 'positions'?",
    );
    unchanged();
  });

  it('applyQK { heads } says what applyQK takes', () => {
    expect(() => rope.applyQK(q, k, { heads: 4, positions: 0 } as never)).toThrow('applyQK takes qHeads and kHeads');
    unchanged();
  });

  it('applyQK { signal } is for the async form only', () => {
    expect(() => rope.applyQK(q, k, { qHeads: 4, kHeads: 2, positions: 0, signal: undefined } as never)).toThrow(
      "applyQK does not take the option 'signal'",
    );
    unchanged();
  });

  it('applyAsync and applyQKAsync reject, writing nothing', async () => {
    await expect(rope.applyAsync(q, { heads: 4, positions: 0, treads: 1 } as never)).rejects.toThrow(
      "applyAsync does not take the option 'treads': did you mean 'threads'?",
    );
    await expect(rope.applyQKAsync(q, k, { qHeads: 4, kHeads: 2, positions: 0, dtyp: 'f32' } as never)).rejects.toThrow(
      "applyQKAsync does not take the option 'dtyp': did you mean 'dtype'?",
    );
    // Large enough to skip the inline path (ASYNC_INLINE_BYTES).
    const big = filled(4 * 8 * 9000);
    const before = bytes(big);
    await expect(rope.applyAsync(big, { heads: 4, positions: 0, seqlen: 5 } as never)).rejects.toThrow("did you mean 'seqLen'?");
    expect(bytes(big)).toBe(before);
    unchanged();
  });

  it('prepare refuses with a suggestion', () => {
    expect(() => rope.prepare({ qHeads: 4, kHeads: 2, dtpye: 'f32' } as never)).toThrow("prepare does not take 'dtpye' (did you mean 'dtype'?)");
  });

  it('the known keys still work (a control: the refusals above are about the key)', () => {
    const a = q.slice();
    rope.apply(a, { heads: 4, positions: 3, inverse: true, threads: 1, dtype: 'f32', layout: 'shd', tokens: 2, seqLen: 8 });
    expect(bytes(a)).not.toBe(q0);
  });
});

describe('nearest', () => {
  it('reads snake_case and case as the same name, and knows config spellings', () => {
    expect(nearest('rope_theta', ['headDim', 'base'])).toBe('base');
    expect(nearest('max_position_embeddings', ['maxPositions', 'base'])).toBe('maxPositions');
    expect(nearest('HEADDIM', ['headDim', 'base'])).toBe('headDim');
    expect(nearest('qwerty', ['headDim', 'base'])).toBeNull();
  });
});

describe('the decode path\'s key switch', () => {
  it('accepts exactly APPLY_QK_KEYS', () => {
    for (const key of APPLY_QK_KEYS) expect(() => checkApplyQKKeys({ [key]: 1 })).not.toThrow();
    for (const key of ['heads', 'signal', 'Positions', 'position', 'qheads', 'slots', 'caches', '']) {
      expect(() => checkApplyQKKeys({ [key]: 1 })).toThrow(TypeError);
    }
  });
  it('knows exactly CACHE_KEYS in a cache option', () => {
    for (const key of CACHE_KEYS) expect(knownCacheKeys({ [key]: 1 })).toBe(true);
    expect(knownCacheKeys({ k: 1, v: 2, slots: 3, dtype: 4, layout: 5 })).toBe(true);
    for (const key of ['K', 'slot', 'vCache', 'layouts', 'cache', 'positions', '']) expect(knownCacheKeys({ k: 1, [key]: 1 })).toBe(false);
    expect(knownCacheKeys(Object.create({ slot: 0 }))).toBe(false); // (inherited enumerable keys are read too)
  });
});
