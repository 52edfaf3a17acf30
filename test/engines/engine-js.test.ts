// The JS engine against plain float64 references, on plans built by hand (no facade).
import { describe, expect, it } from 'vitest';
import { createJsEngine } from '../../lib/engine-js.js';
import {
  DTYPE_BF16,
  DTYPE_F16,
  DTYPE_F32,
  STYLE_HALF,
  STYLE_INTERLEAVED,
  type CallPlan,
  type DType,
  type Layout,
  type RopeGeometry,
  type StyleCode,
  type TensorPlan,
} from '../../lib/types.js';
import {
  DTYPES,
  bitsOf,
  decode,
  f32CosSin,
  fillRandom,
  plainCosSin,
  referenceRotation,
  rng,
  shortInvFreq,
  storeRounded,
  type CosSinFn,
} from '../helpers/engine-ref.js';
import { ggmlFixtures, hfFixtures } from '../helpers/fixtures.js';

interface Case {
  style: StyleCode;
  dtype: DType;
  layout: Layout;
  headDim: number;
  rotaryDim: number;
  batch: number;
  tokens: number;
  qHeads: number;
  kHeads: number; // 0: q only
  /** 'offset' | 'tokens' (one per token) | 'batch' (batch*tokens) */
  positions: 'offset' | 'tokens' | 'batch';
  positionOffset?: number;
  maxPosition?: number;
  inverse: boolean;
  attentionScaling?: number;
  /** Extra elements between tokens ('shd'/'bshd') and before the first element. */
  tokenPad?: number;
  lead?: number;
  pairSection?: Uint8Array;
  seed: number;
}


function tensor(c: Case, heads: number, r: () => number): TensorPlan {
  const { headDim, tokens, batch, layout } = c;
  const lead = c.lead ?? 0;
  let tokenStride: number;
  let headStride: number;
  let batchStride: number;
  if (layout === 'bhsd') {
    tokenStride = headDim;
    headStride = tokens * headDim;
    batchStride = heads * tokens * headDim;
  } else {
    tokenStride = heads * headDim + (c.tokenPad ?? 0);
    headStride = headDim;
    batchStride = tokens * tokenStride;
  }
  const n = lead + batch * batchStride;
  const data = c.dtype === DTYPE_F32 ? new Float32Array(n) : new Uint16Array(n);
  fillRandom(data, c.dtype, r);
  return { data, dtype: c.dtype, heads, offset: lead, batchStride, tokenStride, headStride };
}

function build(c: Case, invFreq: Float64Array): { plan: CallPlan; geometry: RopeGeometry } {
  const r = rng(c.seed);
  const q = tensor(c, c.qHeads, r);
  const k = c.kHeads > 0 ? tensor(c, c.kHeads, r) : null;
  const rows = c.pairSection ? Math.max(...c.pairSection) + 1 : 1;
  const maxP = c.maxPosition ?? 5000;
  let positions: Int32Array | null = null;
  let pbs = 0;
  if (c.positions !== 'offset') {
    pbs = c.positions === 'batch' ? c.tokens : 0;
    const per = c.positions === 'batch' ? c.batch * c.tokens : c.tokens;
    positions = new Int32Array(rows * per);
    for (let i = 0; i < positions.length; i++) positions[i] = Math.floor(r() * maxP);
  }
  const plan: CallPlan = {
    q,
    k,
    batch: c.batch,
    tokens: c.tokens,
    inverse: c.inverse,
    positions,
    positionOffset: c.positionOffset ?? 0,
    positionsBatchStride: pbs,
    positionsRowStride: positions === null ? 0 : positions.length / rows,
    invFreq,
    attentionScaling: c.attentionScaling ?? 1,
    threads: 1,
  };
  const geometry: RopeGeometry = {
    headDim: c.headDim,
    rotaryDim: c.rotaryDim,
    style: c.style,
    pairSection: c.pairSection ?? null,
    sectionRows: rows,
  };
  return { plan, geometry };
}

/** Applies, then checks every element of q and k: rotated ones against the reference (exact:
 * storeRounded(ref) bit for bit; or within tol of the float64 value), the rest bit-identical. */
function check(c: Case, invFreq: Float64Array, cosSin: CosSinFn, tol: number | 'exact'): void {
  const { plan, geometry } = build(c, invFreq);
  const tensors = plan.k ? [plan.q, plan.k] : [plan.q];
  const before = tensors.map((t) => t.data.slice());
  const expected = tensors.map((t, i) => referenceRotation(plan, t, geometry, before[i], cosSin));
  createJsEngine(geometry).apply(plan);
  tensors.forEach((t, ti) => {
    const exp = expected[ti];
    const gotBits = bitsOf(t.data);
    const oldBits = bitsOf(before[ti]);
    let rotated = 0;
    for (let i = 0; i < t.data.length; i++) {
      const want = exp.get(i);
      if (want === undefined) {
        if (gotBits[i] !== oldBits[i]) expect({ untouched: i, bits: gotBits[i] }).toEqual({ untouched: i, bits: oldBits[i] });
        continue;
      }
      rotated++;
      const got = decode(t.dtype, t.data, i);
      if (tol === 'exact') {
        const w = storeRounded(t.dtype, want);
        if (!Object.is(got, w)) expect({ i, got }).toEqual({ i, got: w });
      } else if (Number.isNaN(want)) {
        expect(got).toBeNaN();
      } else if (!(Math.abs(got - want) <= tol)) {
        expect({ i, got, err: Math.abs(got - want) }).toEqual({ i, got: want, err: `<= ${tol}` });
      }
    }
    expect(rotated).toBe(c.batch * c.tokens * t.heads * c.rotaryDim);
  });
}

const base: Omit<Case, 'style' | 'dtype' | 'layout' | 'seed'> = {
  headDim: 64,
  rotaryDim: 64,
  batch: 1,
  tokens: 5,
  qHeads: 3,
  kHeads: 0,
  positions: 'offset',
  inverse: false,
};

describe('JS engine vs float64 reference (exact angles: bit-exact)', () => {
  const invFreq = shortInvFreq(10000, 64);
  const inv32 = shortInvFreq(10000, 32);
  let seed = 1;
  for (const style of [STYLE_HALF, STYLE_INTERLEAVED] as StyleCode[]) {
    for (const dtype of DTYPES) {
      const tag = `${style === STYLE_HALF ? 'half' : 'interleaved'} ${['f32', 'f16', 'bf16'][dtype]}`;
      it(`${tag}: shd, offset positions, attentionScaling`, () => {
        const c: Case = { ...base, style, dtype, layout: 'shd', positionOffset: 4093, attentionScaling: 1.2, seed: seed++ };
        check(c, invFreq, f32CosSin(invFreq, 1.2), 'exact');
      });
      it(`${tag}: partial rotary, q and k with different heads, per-token positions, inverse`, () => {
        const c: Case = { ...base, style, dtype, layout: 'shd', headDim: 96, rotaryDim: 32, qHeads: 4, kHeads: 2, positions: 'tokens', inverse: true, seed: seed++ };
        check(c, inv32, f32CosSin(inv32, 1), 'exact');
      });
      it(`${tag}: bshd, batch 3 with batch*tokens positions, token padding and a lead offset`, () => {
        const c: Case = { ...base, style, dtype, layout: 'bshd', batch: 3, tokens: 4, qHeads: 2, kHeads: 1, positions: 'batch', tokenPad: 7, lead: 5, maxPosition: 1 << 19, seed: seed++ };
        check(c, invFreq, f32CosSin(invFreq, 1), 'exact');
      });
      it(`${tag}: bhsd, batch 2, shared per-token positions, inverse, partial rotary`, () => {
        const c: Case = { ...base, style, dtype, layout: 'bhsd', headDim: 80, rotaryDim: 32, batch: 2, tokens: 6, qHeads: 3, kHeads: 3, positions: 'tokens', inverse: true, lead: 2, seed: seed++ };
        check(c, inv32, f32CosSin(inv32, 1), 'exact');
      });
    }
  }

  it('M-RoPE: pair j reads positions row pairSection[j] (blocks and round-robin)', () => {
    const rd = 32;
    const f = shortInvFreq(1000000, rd);
    const blocks = Uint8Array.from({ length: 16 }, (_, j) => (j < 4 ? 0 : j < 10 ? 1 : 2));
    const roundRobin = Uint8Array.from({ length: 16 }, (_, j) => j % 3);
    for (const pairSection of [blocks, roundRobin]) {
      for (const style of [STYLE_HALF, STYLE_INTERLEAVED] as StyleCode[]) {
        for (const positions of ['tokens', 'batch'] as const) {
          const c: Case = { ...base, style, dtype: DTYPE_F32, layout: 'bshd', headDim: rd, rotaryDim: rd, batch: 2, kHeads: 2, positions, pairSection, seed: 99 };
          check(c, f, f32CosSin(f, 1), 'exact');
          check({ ...c, dtype: DTYPE_BF16, inverse: true }, f, f32CosSin(f, 1), 'exact');
        }
      }
    }
  });
});

describe('JS engine accuracy with real frequencies', () => {
  const invFreq = new Float64Array(64).map((_, j) => Math.pow(500000, (-2 * j) / 128));
  for (const style of [STYLE_HALF, STYLE_INTERLEAVED] as StyleCode[]) {
    it(`f32 within 1e-6 of float64 math at positions below 2^24 (${style === STYLE_HALF ? 'half' : 'interleaved'})`, () => {
      const c: Case = { ...base, style, dtype: DTYPE_F32, layout: 'shd', headDim: 128, rotaryDim: 128, tokens: 40, qHeads: 2, kHeads: 1, positions: 'tokens', maxPosition: 2 ** 24, seed: 7 + style };
      check(c, invFreq, plainCosSin(invFreq, 1), 1e-6);
      check({ ...c, inverse: true, positions: 'offset', positionOffset: 2 ** 24 - 40 }, invFreq, plainCosSin(invFreq, 1), 1e-6);
    });
  }
  it('f16 and bf16 within 1 ulp of the float64 result at positions below 2^24', () => {
    for (const dtype of [DTYPE_F16, DTYPE_BF16] as DType[]) {
      const c: Case = { ...base, style: STYLE_HALF, dtype, layout: 'shd', headDim: 128, rotaryDim: 128, tokens: 20, qHeads: 2, positions: 'tokens', maxPosition: 2 ** 24, seed: 11 };
      // |x| < 2: one ulp is at most 2^-9 (f16) or 2^-6 (bf16) at the result's magnitude (< 4)
      check(c, invFreq, plainCosSin(invFreq, 1), dtype === DTYPE_F16 ? 2 ** -9 : 2 ** -6);
    }
  });
});

/** Index of the first differing element, -1 if bit-identical (deep equality on big typed arrays is
 * slow in vitest). */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('JS engine cache behaviour', () => {
  const geometry: RopeGeometry = { headDim: 64, rotaryDim: 64, style: STYLE_HALF, pairSection: null, sectionRows: 1 };
  const make = (invFreq: Float64Array, scale: number, seed: number) =>
    build({ ...base, style: STYLE_HALF, dtype: DTYPE_F32, layout: 'shd', tokens: 300, positions: 'tokens', maxPosition: 20000, seed, attentionScaling: scale }, invFreq).plan;
  const f1 = new Float64Array(32).map((_, j) => Math.pow(10000, -j / 32));

  it('gives bit-identical results with no cache (cap 0) and with a warm cache', () => {
    const a = make(f1, 1, 3);
    const b = make(f1, 1, 3);
    const warm = createJsEngine(geometry);
    warm.apply(make(f1, 1, 3)); // fills rows
    warm.apply(a);
    createJsEngine(geometry, 0).apply(b);
    expect(firstDiff(bitsOf(a.q.data), bitsOf(b.q.data))).toBe(-1);
  });

  it('recomputes for another invFreq, an invFreq edited in place, or another attentionScaling', () => {
    const f2 = f1.map((v) => v * 0.25);
    const engine = createJsEngine(geometry);
    const fresh = (f: Float64Array, s: number) => {
      const p = make(f, s, 5);
      createJsEngine(geometry).apply(p);
      return bitsOf(p.q.data);
    };
    const run = (f: Float64Array, s: number) => {
      const p = make(f, s, 5);
      engine.apply(p);
      return bitsOf(p.q.data);
    };
    expect(firstDiff(run(f1, 1), fresh(f1, 1))).toBe(-1);
    expect(firstDiff(run(f2, 1), fresh(f2, 1))).toBe(-1);
    expect(firstDiff(run(f2, 0.5), fresh(f2, 0.5))).toBe(-1);
    expect(firstDiff(run(f1, 1), fresh(f1, 1))).toBe(-1);
    const edited = Float64Array.from(f1);
    expect(firstDiff(run(edited, 1), fresh(edited, 1))).toBe(-1);
    edited[1] *= 3;
    expect(firstDiff(run(edited, 1), fresh(edited, 1))).toBe(-1);
    expect(firstDiff(run(edited, 1), run(f1, 1))).toBeGreaterThanOrEqual(0);
  });
});

/** Rotates a fixture's input ([tokens, heads, headDim], f32) with a hand-built plan; returns the
 * max abs error against output_exact relative to max |output_exact|. */
function fixtureError(
  fx: { style: string; headDim: number; rotaryDim: number; heads: number; tokens: number; input: number[]; output_exact: number[] },
  positionRows: number[][],
  invFreq: Float64Array,
  attentionScaling: number,
  pairSection: Uint8Array | null,
): number {
  const data = Float32Array.from(fx.input);
  const rowLen = fx.heads * fx.headDim;
  const plan: CallPlan = {
    q: { data, dtype: DTYPE_F32, heads: fx.heads, offset: 0, batchStride: fx.tokens * rowLen, tokenStride: rowLen, headStride: fx.headDim },
    k: null,
    batch: 1,
    tokens: fx.tokens,
    inverse: false,
    positions: Int32Array.from(positionRows.flat()),
    positionOffset: 0,
    positionsBatchStride: 0,
    positionsRowStride: fx.tokens,
    invFreq,
    attentionScaling,
    threads: 1,
  };
  const style = fx.style === 'half' ? STYLE_HALF : STYLE_INTERLEAVED;
  createJsEngine({ headDim: fx.headDim, rotaryDim: fx.rotaryDim, style, pairSection, sectionRows: positionRows.length }).apply(plan);
  let maxErr = 0;
  let maxOut = 0;
  for (let i = 0; i < data.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(data[i] - fx.output_exact[i]));
    maxOut = Math.max(maxOut, Math.abs(fx.output_exact[i]));
  }
  return maxErr / maxOut;
}

const baseInvFreq = (base: number, rotaryDim: number, scale = 1): Float64Array =>
  new Float64Array(rotaryDim / 2).map((_, j) => scale * Math.pow(base, (-2 * j) / rotaryDim));

describe('conformance vectors through hand-built plans', () => {
  const hf = hfFixtures();
  for (const name of ['default_llama2', 'partial', 'interleaved_basic', 'longpos']) {
    it(`hf/${name}: invFreq = base^(-2j/rotaryDim) matches output_exact`, () => {
      const fx = hf.find((f) => f.name === name)!;
      const f = baseInvFreq(fx.config.rope_theta as number, fx.rotaryDim);
      expect(fixtureError(fx, [fx.positions as number[]], f, 1, null)).toBeLessThanOrEqual(1e-6);
    });
  }
  it('hf/mrope_qwen2vl: M-RoPE sections [16, 24, 24] as pairSection blocks match output_exact', () => {
    const fx = hf.find((f) => f.name === 'mrope_qwen2vl')!;
    const sec = fx.mrope_section!;
    const pairSection = Uint8Array.from({ length: fx.rotaryDim / 2 }, (_, j) => (j < sec[0] ? 0 : j < sec[0] + sec[1] ? 1 : 2));
    const f = baseInvFreq(fx.config.rope_theta as number, fx.rotaryDim);
    expect(fixtureError(fx, fx.positions as number[][], f, 1, pairSection)).toBeLessThanOrEqual(1e-6);
    // and the sections matter: reading row 0 for every pair does not match
    expect(fixtureError(fx, fx.positions as number[][], f, 1, null)).toBeGreaterThan(1e-3);
  });
  for (const fx of ggmlFixtures().filter((g) => g.ext_factor === 0)) {
    it(`ggml/${fx.name}: matches output_exact (linear freq_scale folded into invFreq)`, () => {
      const f = baseInvFreq(fx.freq_base, fx.rotaryDim, fx.freq_scale);
      expect(fixtureError(fx, [fx.positions], f, fx.attn_factor, null)).toBeLessThanOrEqual(1e-6);
    });
  }
});
