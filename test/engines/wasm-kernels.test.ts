// The wasm kernels' fast paths (native/kernels/wasm_simd128.cc) where they are easiest to get
// wrong. 16-bit types store f32(d) (d = x*c - y*s in float64) unless that f32 lies on a 16-bit
// rounding midpoint: here every row holds a pair whose d rounds to f32 exactly onto a midpoint
// without being it (found by search), where f32-then-16-bit rounding gives the wrong answer. The
// expected values are the formula rounded once (test/helpers/engine-ref.ts) with the engine's own
// float32 cos/sin, and the JS engine must agree bit for bit too.
import { describe, expect, it } from 'vitest';
import { createRope } from '../../lib/rope.js';
import type { DTypeName, RopeStyle } from '../../lib/types.js';
import { bf16Value, f16Value, rng, roundBf16, roundF16 } from '../helpers/engine-ref.js';

const HEAD_DIM = 16; // 8 pairs: two full SIMD128 vectors per row half
const HALF = HEAD_DIM / 2;
const POSITIONS = [1, 100, 4097];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f32Bits = (v: number) => ((f32[0] = v), u32[0]);

interface Fmt {
  decode(h: number): number;
  round(v: number): number;
  random(r: () => number): number; // a finite storage pattern of moderate magnitude
  onMidpoint(bits: number): boolean; // an f32 (bits) on a rounding midpoint of the 16-bit type
}
const FMT: Record<'f16' | 'bf16', Fmt> = {
  bf16: {
    decode: bf16Value,
    round: roundBf16,
    random: (r) => (r() < 0.5 ? 0x8000 : 0) | (0x3c00 + Math.floor(r() * 0x700)),
    onMidpoint: (b) => (b & 0xffff) === 0x8000,
  },
  f16: {
    decode: f16Value,
    round: roundF16,
    random: (r) => (r() < 0.5 ? 0x8000 : 0) | (0x2000 + Math.floor(r() * 0x3000)),
    onMidpoint: (b) => (b & 0x7fffffff) >= 0x38800000 && (b & 0x1fff) === 0x1000,
  },
};

// Pairs (x, y) of pair index j at `position` where x' or y' is such a trap.
function traps(fmt: Fmt, c: number, s: number, r: () => number, want: number): [number, number][] {
  const out: [number, number][] = [];
  for (let n = 0; n < 4_000_000 && out.length < want; n++) {
    const hx = fmt.random(r);
    const hy = fmt.random(r);
    const x = fmt.decode(hx);
    const y = fmt.decode(hy);
    for (const d of [x * c - y * s, y * c + x * s]) {
      if (Math.fround(d) !== d && fmt.onMidpoint(f32Bits(d))) {
        out.push([hx, hy]);
        break;
      }
    }
  }
  return out;
}

describe('wasm 16-bit fast path: f32 results on a 16-bit midpoint take the exact path', () => {
  it.each(['bf16', 'f16'] as const)('%s, both styles: every trap row is the formula rounded once, as the JS engine', (dtype: 'f16' | 'bf16') => {
    const fmt = FMT[dtype];
    const r = rng(dtype === 'bf16' ? 21 : 22);
    const table = createRope({ headDim: HEAD_DIM }, 'js').cosSin(POSITIONS);
    let naiveWrong = 0;
    for (const style of ['half', 'interleaved'] as RopeStyle[])
      for (let t = 0; t < POSITIONS.length; t++) {
        // One row per trap, the trap at pair j = row % HALF, random pairs around it.
        const rows: number[][] = [];
        for (let j = 0; j < HALF; j++) {
          const c = table.cos[t * HEAD_DIM + j];
          const s = table.sin[t * HEAD_DIM + j];
          for (const [hx, hy] of traps(fmt, c, s, r, 3)) {
            const xs = Array.from({ length: HALF }, () => fmt.random(r));
            const ys = Array.from({ length: HALF }, () => fmt.random(r));
            xs[j] = hx;
            ys[j] = hy;
            rows.push(style === 'half' ? [...xs, ...ys] : xs.flatMap((x, i) => [x, ys[i]]));
          }
        }
        expect(rows.length, `${dtype} position ${POSITIONS[t]}: traps found`).toBeGreaterThanOrEqual(HALF);
        const input = Uint16Array.from(rows.flat());
        const [js, wasm] = [input.slice(), input.slice()];
        const opts = { heads: rows.length, positions: [POSITIONS[t]], tokens: 1, dtype } as never;
        createRope({ headDim: HEAD_DIM, style }, 'js').apply(js as never, opts);
        createRope({ headDim: HEAD_DIM, style }, 'wasm').apply(wasm as never, opts);
        for (let row = 0; row < rows.length; row++)
          for (let j = 0; j < HALF; j++) {
            const [ix, iy] = style === 'half' ? [row * HEAD_DIM + j, row * HEAD_DIM + HALF + j] : [row * HEAD_DIM + 2 * j, row * HEAD_DIM + 2 * j + 1];
            const c = table.cos[t * HEAD_DIM + j];
            const s = table.sin[t * HEAD_DIM + j];
            const x = fmt.decode(input[ix]);
            const y = fmt.decode(input[iy]);
            for (const [i, d] of [[ix, x * c - y * s], [iy, y * c + x * s]]) {
              const where = `${dtype} ${style} position ${POSITIONS[t]} row ${row} element ${i % HEAD_DIM}`;
              expect(fmt.decode(wasm[i]), where).toBe(fmt.round(d));
              expect(wasm[i], where).toBe(js[i]);
              if (fmt.round(Math.fround(d)) !== fmt.round(d)) naiveWrong++;
            }
          }
      }
    // The rows do hold cases where rounding through f32 gives another value.
    expect(naiveWrong).toBeGreaterThan(10);
  });
});

// f32 rotates in f32 without a fused op; lanes whose result is near zero (a zero's sign, an
// underflowed product) or near overflow (a product or the sum overflowing where float64 does not)
// are redone in float64, block by block (8 pairs, headDim 16 here). Pairs of these values put
// results in every such place; the JS engine is the reference (zeros and infinities exact, NaN
// where it has NaN, others of its sign and within 2 ulp of the row's largest finite |value|).
describe('wasm f32: results near zero and overflow', () => {
  const SPECIAL = [
    0, -0, 2 ** -149, -(2 ** -140), 2 ** -126, 2 ** -100, -(2 ** -99), 1e-30, 0.5, -1, 3.4028234663852886e38,
    -3.4028234663852886e38, 3.4028232635611926e38, 2 ** 127, -(2 ** 126), 1.7e38, Infinity, -Infinity, NaN,
  ];
  const ulp = (x: number) => (x === 0 ? 2 ** -149 : Math.max(2 ** -149, 2 ** (Math.floor(Math.log2(x)) - 23)));
  it.each(['half', 'interleaved'] as RopeStyle[])('%s: every pair of specials, at several positions, as the JS engine', (style) => {
    const r = rng(31);
    const pairs: [number, number][] = [];
    for (const a of SPECIAL) for (const b of SPECIAL) pairs.push([a, b]);
    // One pair per row at pair index j = row % HALF, the other pairs of the row the same specials
    // shuffled: blocks mix redone and fast lanes.
    const rows = pairs.map(([a, b], row) => {
      const xs = Array.from({ length: HALF }, () => SPECIAL[Math.floor(r() * SPECIAL.length)]);
      const ys = Array.from({ length: HALF }, () => SPECIAL[Math.floor(r() * SPECIAL.length)]);
      xs[row % HALF] = a;
      ys[row % HALF] = b;
      return style === 'half' ? [...xs, ...ys] : xs.flatMap((x, i) => [x, ys[i]]);
    });
    rows.push(new Array(HEAD_DIM).fill(0), new Array(HEAD_DIM).fill(-0)); // all-zero rows
    for (const position of [0, 1, 100, 65535]) {
      const input = Float32Array.from(rows.flat());
      const [js, wasm] = [input.slice(), input.slice()];
      const opts = { heads: rows.length, positions: [position], tokens: 1 } as never;
      createRope({ headDim: HEAD_DIM, style }, 'js').apply(js, opts);
      createRope({ headDim: HEAD_DIM, style }, 'wasm').apply(wasm, opts);
      for (let row = 0; row < rows.length; row++) {
        let max = 0;
        for (let d = 0; d < HEAD_DIM; d++) if (Number.isFinite(js[row * HEAD_DIM + d])) max = Math.max(max, Math.abs(js[row * HEAD_DIM + d]));
        for (let d = 0; d < HEAD_DIM; d++) {
          const i = row * HEAD_DIM + d;
          const [e, a] = [js[i], wasm[i]];
          const where = `${style} position ${position} row ${row} element ${d}: js ${e} wasm ${a}`;
          if (Number.isNaN(e) || Number.isNaN(a)) expect(Number.isNaN(a), where).toBe(Number.isNaN(e));
          else if (e === 0 || a === 0 || !Number.isFinite(e) || !Number.isFinite(a)) expect(Object.is(a, e), where).toBe(true);
          else {
            expect(Math.abs(a - e), where).toBeLessThanOrEqual(2 * ulp(max));
            expect(a < 0, `${where}: sign`).toBe(e < 0); // the contract's sign, always (loops.h)
          }
        }
      }
    }
  });
});
