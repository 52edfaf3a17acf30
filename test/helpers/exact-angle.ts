// An independent reference for cos/sin of the exact angle position*invFreq (nothing of lib/ used):
// a double is m*2^e exactly, so the product is the integer position*m times 2^e; it is reduced by
// pi/2 in 320-bit fixed point (pi from Machin's formula, computed here), and only the reduced
// angle r in [-pi/4, pi/4] becomes a double. Math.cos/Math.sin of r then carry a relative error
// of a few 2^-53 everywhere, also where cos or sin of the angle is tiny.

const FRAC = 320;
const FRAC_N = BigInt(FRAC);
const ONE = 1n << FRAC_N;

function atanInv(x: bigint): bigint {
  // atan(1/x) = sum_k (-1)^k / ((2k+1) x^(2k+1)), in FRAC-bit fixed point (+ 16 guard bits)
  const one = ONE << 16n;
  let sum = 0n;
  let pow = one / x;
  const x2 = x * x;
  for (let k = 0n; pow !== 0n; k++) {
    const term = pow / (2n * k + 1n);
    sum += k % 2n === 0n ? term : -term;
    pow /= x2;
  }
  return sum;
}

/** pi * 2^FRAC, truncated (error < 2^-300 relative: far below anything a double can see). */
export const PI_FIXED = (16n * atanInv(5n) - 4n * atanInv(239n)) >> 16n;
const HALF_PI = PI_FIXED >> 1n;
const QUARTER_PI = PI_FIXED >> 2n;

const view = new DataView(new ArrayBuffer(8));

/** f (finite, > 0) as m * 2^e with m an integer. */
function mantExp(f: number): [bigint, number] {
  view.setFloat64(0, f);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  return exp === 0 ? [frac, -1074] : [frac | (1n << 52n), exp - 1075];
}

/** cos and sin (doubles) of position*invFreq, the product and its reduction taken exactly. */
export function exactCosSin(position: number, invFreq: number): [number, number] {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`position ${position}`);
  if (!(invFreq > 0 && Number.isFinite(invFreq))) throw new RangeError(`invFreq ${invFreq}`);
  const [m, e] = mantExp(invFreq);
  const shift = FRAC + e;
  if (shift < 0) throw new RangeError(`invFreq ${invFreq} is below the reference's fixed point`);
  const angle = (BigInt(position) * m) << BigInt(shift);
  let k = angle / HALF_PI;
  let r = angle - k * HALF_PI; // in [0, pi/2)
  if (r > QUARTER_PI) {
    r -= HALF_PI;
    k += 1n;
  }
  const rd = Number(r) / 2 ** FRAC; // one rounding; 2^FRAC is a power of two
  const c = Math.cos(rd);
  const s = Math.sin(rd);
  switch (Number(k & 3n)) {
    case 0:
      return [c, s];
    case 1:
      return [-s, c];
    case 2:
      return [-c, -s];
    default:
      return [s, -c];
  }
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The float32 neighbours of v: [below-or-equal, above-or-equal] (equal when v is a float32). */
function f32Neighbours(v: number): [number, number] {
  const r = Math.fround(v);
  if (r === v) return [r, r];
  F32[0] = r;
  const step = (r > v) === (r > 0) ? -1 : 1; // toward v in magnitude
  U32[0] += step;
  const other = F32[0];
  return r < other ? [r, other] : [other, r];
}

/**
 * The float32 values a correctly rounded result of the exact value v may take, given that v is
 * known to a relative error below 2^-40 (the reference here, and the engines' float64 rows, are
 * better): fround(v), or either neighbour when v lies that close to the midpoint between two
 * float32s (then no float64 computation can tell which way the exact value rounds).
 */
export function f32Candidates(v: number): number[] {
  const [lo, hi] = f32Neighbours(v);
  if (lo === hi) return [lo];
  const mid = (lo + hi) / 2; // exact in float64
  return Math.abs(v - mid) <= Math.abs(v) * 2 ** -40 ? [lo, hi] : [Math.fround(v)];
}

/** Units in the last place of a float32 at |v| (normal range). */
export function ulp32(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // (log2 may round up just below a power of two)
  if (2 ** (e + 1) <= a) e++;
  return 2 ** (e - 23);
}

/**
 * The f32 rotation of one head row x[at .. at + headDim) as the contract states it (README,
 * Numerics): c, s the float32 rounding of scale*cos, scale*sin of the exact angle, then
 * round32(x*c - round32(y*s)), round32(y*c + round32(x*s)). Pair j (of half) has its first element
 * at j ('half' style) or 2j ('interleaved') and its position from positionOf(j). Returns index ->
 * value for the rotated elements; every other element must keep its bits.
 */
export function rotatedRowF32(
  x: ArrayLike<number>,
  at: number,
  half: number,
  interleaved: boolean,
  invFreq: ArrayLike<number>,
  positionOf: (j: number) => number,
  scale = 1,
): Map<number, number> {
  const out = new Map<number, number>();
  for (let j = 0; j < half; j++) {
    const [c0, s0] = exactCosSin(positionOf(j), invFreq[j]);
    const c = Math.fround(scale * c0);
    const s = Math.fround(scale * s0);
    const ix = at + (interleaved ? 2 * j : j);
    const iy = at + (interleaved ? 2 * j + 1 : half + j);
    out.set(ix, Math.fround(x[ix] * c - Math.fround(x[iy] * s)));
    out.set(iy, Math.fround(x[iy] * c + Math.fround(x[ix] * s)));
  }
  return out;
}

/**
 * Where got differs from the expected rotation: rotated elements by more than 2 ulp of the
 * largest expected |value| (the engines' documented agreement in f32), any other element of got
 * by its value (Object.is: -0 and 0 differ). Empty when all is as expected.
 */
export function rotationMisses(got: Float32Array, before: Float32Array, want: Map<number, number>): string[] {
  let max = 0;
  for (const v of want.values()) max = Math.max(max, Math.abs(v));
  const tol = 2 * ulp32(max);
  const out: string[] = [];
  for (let i = 0; i < got.length; i++) {
    const w = want.get(i);
    if (w === undefined) {
      if (!Object.is(got[i], before[i])) out.push(`element ${i} changed: ${before[i]} -> ${got[i]}`);
    } else if (!(Math.abs(got[i] - w) <= tol)) {
      out.push(`element ${i}: ${got[i]}, want ${w}`);
    }
  }
  return out;
}
