// Native vs JS engine on random calls, for every ISA this machine runs (selectIsa): both styles,
// partial rotary, offsets and per-token positions up to 2^31-1, batch, the three layouts, tokenStride,
// fused QKV views, f32/f16/bf16, inverse, q+k, M-RoPE sections, scalings with attentionScaling != 1.
// f32: within 2 ulp of the row's largest |value| (per-element ulps mean nothing where
// x*cos - y*sin cancels), and a native +-0 is the JS value with its sign; f16/bf16: bit for bit (both
// engines round the exact-product result once). Elements outside the rotated part of a row must come
// back bit for bit.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { backendInfo, nativeAddon, selectIsa, supportedIsas } from '../../lib/backend.js';
import { numberToBf16, numberToF16 } from '../../lib/dtype.js';
import { setWasmPieceBytes } from '../../lib/engine-wasm.js';
import { createRope } from '../../lib/rope.js';
import type { DTypeName, Layout, RopeOptions, ScalingOptions } from '../../lib/types.js';

interface Case {
  headDim: number;
  rotaryDim: number;
  style: 'half' | 'interleaved';
  mrope: { section: number[]; interleaved: boolean } | null;
  scaling: ScalingOptions;
  dtype: DTypeName;
  layout: Layout;
  batch: number;
  tokens: number;
  qHeads: number;
  kHeads: number; // 0: apply(q) alone
  extraStride: number; // tokenStride = row + extra ('shd'/'bshd'), or -1 for none
  fused: boolean; // q and k as two views of one QKV buffer
  positions: { offset: number } | { perBatch: boolean; values: number[] };
  inverse: boolean;
  seed: number;
}

const POS_MAX = 2 ** 31 - 1;

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    halfHead: fc.integer({ min: 1, max: 40 }),
    rotFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    style: fc.constantFrom('half' as const, 'interleaved' as const),
    mrope: fc.option(fc.record({ cut: fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), interleaved: fc.boolean() })),
    scaling: fc.constantFrom<ScalingOptions>(
      { type: 'default' },
      { type: 'linear', factor: 4 },
      { type: 'yarn', factor: 8, originalMaxPositions: 4096 },
    ),
    dtype: fc.constantFrom<DTypeName>('f32', 'f16', 'bf16'),
    layout: fc.constantFrom<Layout>('shd', 'bshd', 'bhsd'),
    batch: fc.integer({ min: 1, max: 3 }),
    tokens: fc.integer({ min: 1, max: 6 }),
    qHeads: fc.integer({ min: 1, max: 4 }),
    kHeads: fc.integer({ min: 0, max: 3 }),
    extraStride: fc.integer({ min: -1, max: 5 }),
    fused: fc.boolean(),
    posKind: fc.constantFrom('offset', 'shared', 'perBatch'),
    big: fc.boolean(),
    posSeed: fc.integer({ min: 0, max: 2 ** 30 }),
    inverse: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .map((r): Case => {
    const headDim = 2 * r.halfHead;
    const half = Math.max(1, Math.round(r.rotFrac * r.halfHead));
    const layout = r.batch > 1 && r.layout === 'shd' ? 'bshd' : r.layout;
    let mrope: Case['mrope'] = null;
    if (r.mrope) {
      const [a, b] = r.mrope.cut.map((c) => Math.floor(c * half)).sort((x, y) => x - y);
      mrope = { section: [a, b - a, half - b], interleaved: r.mrope.interleaved };
    }
    const rows = mrope ? 3 : 1;
    const tokens = r.tokens;
    const strided = layout !== 'bhsd' && r.extraStride >= 0;
    let positions: Case['positions'];
    let s = r.posSeed;
    const next = (max: number) => ((s = (s * 1103515245 + 12345) % 2 ** 31), s % (max + 1));
    if (r.posKind === 'offset') {
      positions = { offset: r.big ? POS_MAX - tokens + 1 - next(1000) : next(100) };
    } else {
      const n = rows * (r.posKind === 'perBatch' ? r.batch : 1) * tokens;
      positions = { perBatch: r.posKind === 'perBatch', values: Array.from({ length: n }, () => (r.big ? POS_MAX - next(2 ** 24) : next(5000))) };
    }
    return {
      headDim, rotaryDim: 2 * half, style: r.style, mrope, scaling: r.scaling, dtype: r.dtype, layout,
      batch: layout === 'shd' ? 1 : r.batch, tokens, qHeads: r.qHeads, kHeads: r.kHeads,
      extraStride: strided ? r.extraStride : -1, fused: strided && r.kHeads > 0 && r.fused,
      positions, inverse: r.inverse, seed: r.seed,
    };
  });

// Element index of (b, t, h, 0) for a tensor of `heads` heads, written plainly from the layouts.
function rowStart(c: Case, heads: number, stride: number, base: number, b: number, t: number, h: number): number {
  if (c.layout === 'bhsd') return ((b * heads + h) * c.tokens + t) * c.headDim;
  return base + (b * c.tokens + t) * stride + h * c.headDim;
}

const ulpOf32 = (x: number) => (x === 0 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(x)) - 23));
const toNumber = (dtype: DTypeName, v: number) => {
  if (dtype === 'f32') return v;
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  if (dtype === 'bf16') { u[0] = v << 16; return f[0]; }
  const e = (v >> 10) & 0x1f, m = v & 0x3ff, sign = v & 0x8000 ? -1 : 1;
  return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
};

interface Part {
  heads: number;
  stride: number; // token stride in elements ('shd'/'bshd')
  base: number; // element of (0, 0, 0, 0)
}
interface Result {
  arrays: Array<{ data: Float32Array | Uint16Array; parts: Part[] }>;
}

function runCase(c: Case, engine: 'js' | 'native' | 'wasm'): Result {
  const opts: RopeOptions = { headDim: c.headDim, rotaryDim: c.rotaryDim, style: c.style, scaling: c.scaling, maxPositions: 32768 };
  if (c.mrope) Object.assign(opts, { mropeSection: c.mrope.section, mropeInterleaved: c.mrope.interleaved });
  const rope = createRope(opts, engine);
  const qRow = c.qHeads * c.headDim, kRow = c.kHeads * c.headDim;
  const strided = c.extraStride >= 0;
  const qStride = strided ? (c.fused ? qRow + 2 * kRow : qRow) + c.extraStride : qRow;
  const kStride = strided ? (c.fused ? qStride : kRow + c.extraStride) : kRow;
  const len = (row: number, st: number) => (c.batch * c.tokens - 1) * st + row;
  let s = c.seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31), (s / 2 ** 31) * 2 - 1);
  const make = (n: number) => {
    const vals = Array.from({ length: n }, rand);
    if (c.dtype === 'f32') return Float32Array.from(vals);
    return Uint16Array.from(vals, c.dtype === 'f16' ? numberToF16 : numberToBf16);
  };
  let q: Float32Array | Uint16Array, k: Float32Array | Uint16Array | null = null;
  const result: Result = { arrays: [] };
  if (c.fused) {
    const all = make(len(qRow + 2 * kRow, qStride));
    q = all.subarray(0, len(qRow, qStride));
    k = all.subarray(qRow, qRow + len(kRow, kStride));
    result.arrays.push({ data: all, parts: [{ heads: c.qHeads, stride: qStride, base: 0 }, { heads: c.kHeads, stride: kStride, base: qRow }] });
  } else {
    q = make(len(qRow, qStride));
    result.arrays.push({ data: q, parts: [{ heads: c.qHeads, stride: qStride, base: 0 }] });
    if (c.kHeads > 0) {
      k = make(len(kRow, kStride));
      result.arrays.push({ data: k, parts: [{ heads: c.kHeads, stride: kStride, base: 0 }] });
    }
  }
  const positions = 'offset' in c.positions ? c.positions.offset : Int32Array.from(c.positions.values);
  const common = { positions, layout: c.layout, batch: c.batch, inverse: c.inverse, dtype: c.dtype, ...(strided ? { tokens: c.tokens } : {}) };
  if (k === null) {
    rope.apply(q as Float32Array, { ...common, heads: c.qHeads, ...(strided ? { tokenStride: qStride } : {}) } as never);
  } else {
    const strides = strided ? { qTokenStride: qStride, kTokenStride: kStride } : {};
    rope.applyQK(q as Float32Array, k as Float32Array, { ...common, qHeads: c.qHeads, kHeads: c.kHeads, ...strides } as never);
  }
  return result;
}

// Compares one array of both engines; returns a description of the first mismatch, or ''.
function compare(c: Case, parts: Part[], js: Float32Array | Uint16Array, nat: Float32Array | Uint16Array): string {
  const rotated = new Uint8Array(js.length);
  for (const p of parts)
    for (let b = 0; b < c.batch; b++)
      for (let t = 0; t < c.tokens; t++)
        for (let h = 0; h < p.heads; h++) {
          const at = rowStart(c, p.heads, p.stride, p.base, b, t, h);
          let max = 0;
          for (let d = 0; d < c.headDim; d++) max = Math.max(max, Math.abs(toNumber(c.dtype, js[at + d])));
          const bound = 2 * ulpOf32(max);
          for (let d = 0; d < c.rotaryDim; d++) {
            const i = at + d;
            rotated[i] = 1;
            const [x, y] = [toNumber(c.dtype, js[i]), toNumber(c.dtype, nat[i])];
            const ok =
              c.dtype !== 'f32'
                ? js[i] === nat[i] || (Number.isNaN(x) && Number.isNaN(y)) // f16/bf16: bit for bit
                : y === 0
                  ? Object.is(x, y) // a native zero is the JS one, sign included
                  : Math.abs(x - y) <= bound;
            if (!ok) return `b${b} t${t} h${h} d${d}: js ${x} native ${y} (row max ${max})`;
          }
        }
  for (let i = 0; i < js.length; i++) {
    if (!rotated[i] && !Object.is(js[i], nat[i])) return `element ${i} outside the rotated rows changed: js ${js[i]} native ${nat[i]}`;
  }
  return '';
}

const isas = nativeAddon ? supportedIsas() : [];
const forced = process.env.ROPE_SIMD_BACKEND;

// The wasm engine in every stage (createRope reaches it whichever engine runs by default).
describe('wasm vs JS engine', () => {
  afterAll(() => setWasmPieceBytes(0));
  it.each([
    ['in one piece', 0],
    ['one token per piece', 1],
  ])('wasm-simd128: random calls match the JS engine (%s)', (_name, pieceBytes) => {
    setWasmPieceBytes(pieceBytes);
    fc.assert(
      fc.property(caseArb, (c) => {
        const js = runCase(c, 'js');
        const w = runCase(c, 'wasm');
        js.arrays.forEach((a, i) => {
          const bad = compare(c, a.parts, a.data, w.arrays[i].data);
          expect(bad, `array ${i}: ${bad}`).toBe('');
        });
      }),
      { numRuns: 300 },
    );
  });
});

if (forced === 'js' || forced === 'wasm') {
  describe(`parity (${forced}-only run)`, () => {
    it('has no native engine to compare, by request', () => {
      expect(nativeAddon).toBeNull();
      expect(backendInfo).toMatchObject({ backend: forced, reason: `ROPE_SIMD_BACKEND=${forced}` });
    });
  });
} else {
  describe('native vs JS engine', () => {
    const initial = nativeAddon?.isa();
    afterAll(() => {
      if (initial) selectIsa(initial);
    });

    it('the native addon is loaded and lists scalar', () => {
      expect(nativeAddon, `native addon not loaded: ${backendInfo.reason}`).not.toBeNull();
      expect(isas).toContain('scalar');
    });

    for (const isa of isas) {
      it(`${isa}: random calls match the JS engine`, () => {
        selectIsa(isa);
        expect(backendInfo.isa).toBe(isa);
        fc.assert(
          fc.property(caseArb, (c) => {
            const js = runCase(c, 'js');
            const nat = runCase(c, 'native');
            js.arrays.forEach((a, i) => {
              const bad = compare(c, a.parts, a.data, nat.arrays[i].data);
              expect(bad, `array ${i}: ${bad}`).toBe('');
            });
          }),
          { numRuns: 300 },
        );
      });
    }
  });
}
