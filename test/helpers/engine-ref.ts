// Independent float64 references for the engine tests: plain loops, Math.cos/Math.sin, formula
// decoders and a nearest-even rounding by quantum (none of lib/ is used here).
import {
  DTYPE_BF16,
  DTYPE_F16,
  DTYPE_F32,
  type CallPlan,
  type DType,
  type RopeGeometry,
  type TensorPlan,
} from '../../lib/types.js';

/** Deterministic xorshift32 in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export function f16Value(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m === 0 ? Infinity : NaN) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}
export function bf16Value(h: number): number {
  const e = (h >>> 7) & 0xff;
  const m = h & 0x7f;
  const v = e === 0 ? m * 2 ** -133 : e === 255 ? (m === 0 ? Infinity : NaN) : (1 + m / 128) * 2 ** (e - 127);
  return h & 0x8000 ? -v : v;
}

/** Nearest-even rounding of v to a format with `mant` stored mantissa bits, minimum normal
 * exponent minExp and largest finite value maxFinite; returns the rounded VALUE. */
function roundTo(v: number, mant: number, minExp: number, maxFinite: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const a = Math.abs(v);
  let e = Math.max(Math.floor(Math.log2(a)), minExp);
  while (e > minExp && 2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (e - mant);
  const q = a / ulp; // exact: ulp is a power of two
  let n = Math.floor(q);
  const frac = q - n;
  if (frac > 0.5 || (frac === 0.5 && n % 2 === 1)) n++;
  const r = n * ulp;
  const out = r > maxFinite ? Infinity : r;
  return v < 0 ? -out : out;
}
export const roundF16 = (v: number): number => roundTo(v, 10, -14, 65504);
export const roundBf16 = (v: number): number => roundTo(v, 7, -126, (2 - 2 ** -7) * 2 ** 127);

export function decode(dtype: DType, data: Float32Array | Uint16Array, i: number): number {
  if (dtype === DTYPE_F32) return data[i];
  return dtype === DTYPE_F16 ? f16Value(data[i]) : bf16Value(data[i]);
}

/** The value the engine must store for the float64 result v. */
export function storeRounded(dtype: DType, v: number): number {
  return dtype === DTYPE_F32 ? Math.fround(v) : dtype === DTYPE_F16 ? roundF16(v) : roundBf16(v);
}

/** Random storage content: rotated values in [-1, 1] (for 16-bit: random patterns of magnitude
 * in [2^-3, 2)), the rest arbitrary bit patterns, NaNs included (they must survive untouched). */
export function fillRandom(data: Float32Array | Uint16Array, dtype: DType, r: () => number): void {
  if (dtype === DTYPE_F32) {
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < data.length; i++) {
      if (r() < 0.1) bits[i] = [0x7fa00001, 0xffc12345, 0x00000001, 0x80000000][i & 3];
      else data[i] = r() * 2 - 1;
    }
  } else {
    const lo = dtype === DTYPE_F16 ? 0x3000 : 0x3e00;
    const hi = 0x4000;
    const nan = dtype === DTYPE_F16 ? 0x7d01 : 0x7f81; // signalling NaNs: a rewrite would quiet them
    for (let i = 0; i < data.length; i++) {
      data[i] = r() < 0.05 ? nan : (r() < 0.5 ? 0x8000 : 0) | (lo + Math.floor(r() * (hi - lo)));
    }
  }
}

/** Position of (row, b, t) as the plan describes it. */
export function positionOf(plan: CallPlan, row: number, b: number, t: number): number {
  return plan.positions === null
    ? plan.positionOffset + t
    : plan.positions[row * plan.positionsRowStride + b * plan.positionsBatchStride + t];
}

export type CosSinFn = (position: number, j: number) => [number, number];

/** Plain float64 cos/sin of position*invFreq[j]. */
export const plainCosSin =
  (invFreq: Float64Array, scale: number): CosSinFn =>
  (p, j) => [scale * Math.cos(p * invFreq[j]), scale * Math.sin(p * invFreq[j])];

/** The same, rounded to float32 as the kernels receive them. */
export const f32CosSin =
  (invFreq: Float64Array, scale: number): CosSinFn =>
  (p, j) => [Math.fround(scale * Math.cos(p * invFreq[j])), Math.fround(scale * Math.sin(p * invFreq[j]))];

/**
 * Expected float64 results of one tensor: a Map from element index to the rotated value (before
 * rounding to storage). Elements not in the map must stay bit-identical.
 */
export function referenceRotation(
  plan: CallPlan,
  tp: TensorPlan,
  g: RopeGeometry,
  original: Float32Array | Uint16Array,
  cosSin: CosSinFn,
): Map<number, number> {
  const half = g.rotaryDim / 2;
  const out = new Map<number, number>();
  for (let b = 0; b < plan.batch; b++) {
    for (let t = 0; t < plan.tokens; t++) {
      for (let h = 0; h < tp.heads; h++) {
        const base = tp.offset + b * tp.batchStride + t * tp.tokenStride + h * tp.headStride;
        for (let j = 0; j < half; j++) {
          const row = g.pairSection === null ? 0 : g.pairSection[j];
          const [c, s0] = cosSin(positionOf(plan, row, b, t), j);
          const s = plan.inverse ? -s0 : s0;
          const ix = g.style === 0 ? base + j : base + 2 * j;
          const iy = g.style === 0 ? base + half + j : base + 2 * j + 1;
          const x = decode(tp.dtype, original, ix);
          const y = decode(tp.dtype, original, iy);
          // f32: the kernels' contract, y*s and x*s rounded to f32 first (native/kernels/loops.h)
          const f32 = tp.dtype === DTYPE_F32;
          out.set(ix, x * c - (f32 ? Math.fround(y * s) : y * s));
          out.set(iy, y * c + (f32 ? Math.fround(x * s) : x * s));
        }
      }
    }
  }
  return out;
}

export function bitsOf(data: Float32Array | Uint16Array): Uint32Array | Uint16Array {
  return data instanceof Float32Array ? new Uint32Array(data.buffer, data.byteOffset, data.length) : data;
}

export const DTYPES: DType[] = [DTYPE_F32, DTYPE_F16, DTYPE_BF16];

/** invFreq with 20 significant bits: p*invFreq is then exact in float64 for p < 2^20, so the
 * engine's exact angle and a reference's plain product coincide and results can be compared
 * bit for bit. */
export function shortInvFreq(base: number, rotaryDim: number): Float64Array {
  const f = new Float64Array(rotaryDim / 2);
  for (let j = 0; j < f.length; j++) {
    const v = Math.pow(base, (-2 * j) / rotaryDim);
    const e = Math.floor(Math.log2(v));
    f[j] = Math.round(v * 2 ** (19 - e)) / 2 ** (19 - e);
  }
  return f;
}
