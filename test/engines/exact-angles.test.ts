// Exact angles at large positions, on every engine, against test/helpers/exact-angle.ts (the exact
// product position*invFreq reduced in 320-bit fixed point; nothing of lib/ used). The contract
// (README, Numerics): each cos/sin is the float32 rounding of attentionScaling*cos(position*invFreq)
// of the exact angle, for every position below 2^31. A float32 product, or a float64 product
// without its error term, is off by up to ~2^-22 absolute at positions near 2^31: several float32
// ulps, which the row checks here see.
//
// An engine's rows are read through apply itself: rotating the unit pair (x, y) = (1, 0) in f32
// gives x' = 1*c - round32(0*s) = c and y' = 0*c + round32(1*s) = s exactly, on every engine. The
// rows are checked; then random data is rotated and checked against the contract's formula with
// those (checked) rows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRope, nativeAddon } from '../../lib/internal.js';
import type { Rope } from '../../lib/rope.js';
import type { RopeOptions } from '../../lib/types.js';
import { bf16Value, rng, roundBf16 } from '../helpers/engine-ref.js';
import { exactCosSin, f32Candidates, PI_FIXED, ulp32 } from '../helpers/exact-angle.js';

type Engine = 'js' | 'wasm' | 'native';
const ENGINES: Engine[] = nativeAddon ? ['js', 'wasm', 'native'] : ['js', 'wasm'];

// invFreq from plain and scaled settings; the last reaches invFreq 1.99e6, near the limit 2^21
// (angles near 2^52, where the reduction must stay exact, and the JS rows' correction term lo
// reaches 2^-2).
const SETS: [string, RopeOptions][] = [
  ['base 10000, headDim 16', { headDim: 16 }],
  ['base 500000, headDim 128', { headDim: 128, base: 500000 }],
  ['llama3 (factor 8, low 1, high 4, 8192)', {
    headDim: 128, base: 500000, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
  }],
  ['yarn (factor 8, 4096), interleaved', { headDim: 64, style: 'interleaved', scaling: { type: 'yarn', factor: 8, originalMaxPositions: 4096 } }],
  ['linear (factor 4), partial rotary 16 of 32', { headDim: 32, rotaryDim: 16, scaling: { type: 'linear', factor: 4 } }],
  ['base 4e-9, headDim 8: invFreq 1 to 1.99e6 (limit 2^21)', { headDim: 8, base: 4e-9 }],
];

// Positions from 2^17 (past the native cache's rows) to 2^31 - 1: the edges, then uniform and
// log-uniform draws from a fixed seed.
const EDGES = [2 ** 17 - 1, 2 ** 17, 2 ** 17 + 1, 2 ** 20 + 3, 2 ** 24 - 1, 2 ** 24, 2 ** 24 + 1, 2 ** 30 - 1, 2 ** 30, 2 ** 31 - 2, 2 ** 31 - 1];
const r0 = rng(20261207);
const POSITIONS = Int32Array.from([
  ...EDGES,
  ...Array.from({ length: 40 }, () => 2 ** 17 + Math.floor(r0() * (2 ** 31 - 2 ** 17))),
  ...Array.from({ length: 40 }, () => Math.min(2 ** 31 - 1, Math.floor(2 ** (17 + 14 * r0())))),
]);

interface Geometry {
  headDim: number;
  half: number;
  interleaved: boolean;
}
const geometryOf = (o: RopeOptions): Geometry => ({
  headDim: o.headDim,
  half: (o.rotaryDim ?? o.headDim) / 2,
  interleaved: o.style === 'interleaved',
});
// Index of pair j's first (x) and second (y) element within a head row.
const xAt = (g: Geometry, j: number) => (g.interleaved ? 2 * j : j);
const yAt = (g: Geometry, j: number) => (g.interleaved ? 2 * j + 1 : g.half + j);

/** The row the engine uses for each position, read back through apply on unit pairs (f32). */
function engineRows(rope: Rope, g: Geometry, positions: Int32Array, inverse = false): { cos: Float32Array; sin: Float32Array; passThrough: number[] } {
  const T = positions.length;
  const x = new Float32Array(T * g.headDim).fill(-7.25); // pass-through dims keep -7.25
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < g.half; j++) {
      x[t * g.headDim + xAt(g, j)] = 1;
      x[t * g.headDim + yAt(g, j)] = 0;
    }
  }
  rope.apply(x, { heads: 1, positions, inverse });
  const cos = new Float32Array(T * g.half);
  const sin = new Float32Array(T * g.half);
  const passThrough: number[] = [];
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < g.half; j++) {
      cos[t * g.half + j] = x[t * g.headDim + xAt(g, j)];
      sin[t * g.half + j] = x[t * g.headDim + yAt(g, j)];
    }
    for (let i = 2 * g.half; i < g.headDim; i++) passThrough.push(x[t * g.headDim + i]);
  }
  return { cos, sin, passThrough };
}

/** The reference values scale*cos, scale*sin (float64) of every (position, pair). */
function referenceRows(invFreq: Float64Array, scale: number, positions: Int32Array): { cos: Float64Array; sin: Float64Array } {
  const half = invFreq.length;
  const cos = new Float64Array(positions.length * half);
  const sin = new Float64Array(positions.length * half);
  for (let t = 0; t < positions.length; t++) {
    for (let j = 0; j < half; j++) {
      const [c, s] = exactCosSin(positions[t], invFreq[j]);
      cos[t * half + j] = scale * c;
      sin[t * half + j] = scale * s;
    }
  }
  return { cos, sin };
}

/** Every (t, j) whose float32 value is not a float32 rounding of the reference, described. */
function rowMisses(name: string, got: Float32Array, want: Float64Array, positions: Int32Array, half: number, sign = 1): string[] {
  const out: string[] = [];
  for (let i = 0; i < got.length; i++) {
    const cands = f32Candidates(sign * want[i]);
    if (!cands.includes(got[i])) {
      const t = Math.floor(i / half);
      const off = (got[i] - sign * want[i]) / ulp32(want[i]);
      out.push(`${name} position ${positions[t]} pair ${i % half}: ${got[i]}, want ${cands.join(' or ')} (${off.toFixed(2)} ulp from exact)`);
    }
  }
  return out;
}

describe('the reference', () => {
  it('pi to 320 bits agrees with Math.PI, and exact angles differ visibly from float64 products at 2^31', () => {
    expect(Number(PI_FIXED) / 2 ** 320).toBe(Math.PI);
    // a check of the check: cos of the rounded float64 product is several float32 ulps off the
    // exact angle's at this position, so a row formed that way would fail below
    const f = 500000 ** (-2 / 128);
    const p = 2 ** 31 - 1;
    const [c] = exactCosSin(p, f);
    expect(Math.abs(Math.cos(p * f) - c) / ulp32(c)).toBeGreaterThan(1);
    // and small angles are exact: cos(0) = 1, sin of a tiny angle is the angle
    expect(exactCosSin(0, 0.5)).toEqual([1, 0]);
    expect(exactCosSin(1, 2 ** -30)[1]).toBe(2 ** -30);
  });
});

describe.each(SETS)('exact angles at positions 2^17 .. 2^31-1: %s', (_name, options) => {
  const g = geometryOf(options);
  const ropes = Object.fromEntries(ENGINES.map((e) => [e, createRope(options, e)])) as Record<Engine, Rope>;
  const invFreq = ropes.js.invFreq;
  const scale = ropes.js.attentionScaling;
  const ref = referenceRows(invFreq, scale, POSITIONS);

  it('every engine has the same frequencies and scaling (the reference takes them as given)', () => {
    for (const e of ENGINES) {
      expect([...ropes[e].invFreq], e).toEqual([...invFreq]);
      expect(ropes[e].attentionScaling, e).toBe(scale);
    }
    expect(invFreq.length).toBe(g.half);
  });

  it('rope.cosSin: float32 rounding of the exact values, both halves', () => {
    for (const e of ENGINES) {
      const { cos, sin } = ropes[e].cosSin(POSITIONS);
      const rot = 2 * g.half;
      const first = (a: Float32Array) => Float32Array.from({ length: POSITIONS.length * g.half }, (_, i) => a[Math.floor(i / g.half) * rot + (i % g.half)]);
      const second = (a: Float32Array) => Float32Array.from({ length: POSITIONS.length * g.half }, (_, i) => a[Math.floor(i / g.half) * rot + g.half + (i % g.half)]);
      const misses = [
        ...rowMisses(`${e} cos`, first(cos), ref.cos, POSITIONS, g.half),
        ...rowMisses(`${e} sin`, first(sin), ref.sin, POSITIONS, g.half),
      ];
      expect(misses.slice(0, 5), `${misses.length} of ${2 * POSITIONS.length * g.half} off`).toEqual([]);
      expect(second(cos)).toEqual(first(cos));
      expect(second(sin)).toEqual(first(sin));
    }
  });

  it.each(ENGINES)('%s engine: the rows apply uses, forward and inverse', (e) => {
    const fwd = engineRows(ropes[e], g, POSITIONS);
    const inv = engineRows(ropes[e], g, POSITIONS, true);
    const misses = [
      ...rowMisses('cos', fwd.cos, ref.cos, POSITIONS, g.half),
      ...rowMisses('sin', fwd.sin, ref.sin, POSITIONS, g.half),
      ...rowMisses('inverse cos', inv.cos, ref.cos, POSITIONS, g.half),
      ...rowMisses('inverse sin', inv.sin, ref.sin, POSITIONS, g.half, -1),
    ];
    expect(misses.slice(0, 5), `${misses.length} of ${4 * POSITIONS.length * g.half} off`).toEqual([]);
    expect(fwd.passThrough.every((v) => v === -7.25)).toBe(true);
  });

  it.each(ENGINES)('%s engine: rotated f32 and bf16 data follow the formula with those rows', (e) => {
    const rope = ropes[e];
    const { cos, sin } = engineRows(rope, g, POSITIONS);
    // the rows themselves are checked above; here they must be what the rotation uses
    expect(rowMisses('cos', cos, ref.cos, POSITIONS, g.half)).toEqual([]);
    const H = 3;
    const T = POSITIONS.length;
    const r = rng(T * g.headDim);
    const x = Float32Array.from({ length: T * H * g.headDim }, () => r() * 2 - 1);
    const x0 = x.slice();
    const b = Uint16Array.from({ length: T * H * g.headDim }, () => (r() < 0.5 ? 0x8000 : 0) | (0x3e00 + Math.floor(r() * 0x200)));
    const b0 = b.slice();
    rope.apply(x, { heads: H, positions: POSITIONS });
    rope.apply(b, { heads: H, positions: POSITIONS, dtype: 'bf16' });
    const misses: string[] = [];
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const base = (t * H + h) * g.headDim;
        const want = new Float64Array(2 * g.half);
        for (let j = 0; j < g.half; j++) {
          const c = cos[t * g.half + j];
          const s = sin[t * g.half + j];
          const [ix, iy] = [base + xAt(g, j), base + yAt(g, j)];
          // f32, the contract: round32(x*c - round32(y*s)), round32(y*c + round32(x*s))
          want[2 * j] = Math.fround(x0[ix] * c - Math.fround(x0[iy] * s));
          want[2 * j + 1] = Math.fround(x0[iy] * c + Math.fround(x0[ix] * s));
          // bf16: the exact products' sum rounded once, bit for bit on every engine
          const [bx, by] = [bf16Value(b0[ix]), bf16Value(b0[iy])];
          const vx = roundBf16(bx * c - by * s);
          const vy = roundBf16(by * c + bx * s);
          if (bf16Value(b[ix]) !== vx || bf16Value(b[iy]) !== vy) {
            misses.push(`bf16 position ${POSITIONS[t]} head ${h} pair ${j}: (${bf16Value(b[ix])}, ${bf16Value(b[iy])}), want (${vx}, ${vy})`);
          }
        }
        // The JS engine computes the f32 contract in float64: exactly want. The FMA kernels round
        // the exact value: 1 ulp from want where float64 rounding lands on a float32 tie. The wasm
        // kernel rotates in f32 with separate roundings (native/kernels/wasm_simd128.cc): within
        // 2 ulp of the row's largest |value|.
        const rowMax = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        for (let j = 0; j < g.half; j++) {
          const [ix, iy] = [base + xAt(g, j), base + yAt(g, j)];
          for (const [i, w] of [[ix, want[2 * j]], [iy, want[2 * j + 1]]]) {
            const slack = e === 'js' ? 0 : e === 'native' ? ulp32(w) : 2 * ulp32(rowMax);
            if (!(Math.abs(x[i] - w) <= slack)) misses.push(`f32 position ${POSITIONS[t]} head ${h} pair ${j}: ${x[i]}, want ${w}`);
          }
        }
        for (let i = base + 2 * g.half; i < base + g.headDim; i++) {
          if (!Object.is(x[i], x0[i]) || b[i] !== b0[i]) misses.push(`pass-through element ${i} changed`);
        }
      }
    }
    expect(misses.slice(0, 5), `${misses.length} elements off`).toEqual([]);
  });
});

describe('any position in [2^17, 2^31): every engine rounds the exact angle (property)', () => {
  const ropes = SETS.map(([, o]) => ({ g: geometryOf(o), byEngine: ENGINES.map((e) => [e, createRope(o, e)] as const) }));
  it('cos/sin rows of 8 positions per run, a random set of frequencies, all engines', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SETS.length - 1 }),
        fc.array(fc.integer({ min: 2 ** 17, max: 2 ** 31 - 1 }), { minLength: 8, maxLength: 8 }),
        (set, ps) => {
          const { g, byEngine } = ropes[set];
          const positions = Int32Array.from(ps);
          const ref = referenceRows(byEngine[0][1].invFreq, byEngine[0][1].attentionScaling, positions);
          for (const [e, rope] of byEngine) {
            const rows = engineRows(rope, g, positions);
            const misses = [...rowMisses(`${e} cos`, rows.cos, ref.cos, positions, g.half), ...rowMisses(`${e} sin`, rows.sin, ref.sin, positions, g.half)];
            expect(misses.slice(0, 3)).toEqual([]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
