// An independent reference for the KV-cache write (nothing of lib/ used): exact sums of products of
// doubles in BigInt, rounded once to f32/f16/bf16 by this file's own nearest-even code, and this
// file's own encoders and decoders.
import { exactCosSin } from './exact-angle.js';

export type Fmt = 'f32' | 'f16' | 'bf16';

const DV = new DataView(new ArrayBuffer(8));

/** A finite double as N * 2^E (N an integer, 0 for zeros). */
function parts(v: number): [bigint, number] {
  if (v === 0) return [0n, 0];
  DV.setFloat64(0, Math.abs(v));
  const bits = DV.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const [m, e] = exp === 0 ? [frac, -1074] : [frac | (1n << 52n), exp - 1075];
  return [v < 0 ? -m : m, e];
}

/** sum of a_i * b_i, exactly, as N * 2^E. */
export function exactSum(terms: [number, number][]): [bigint, number] {
  const ps = terms.map(([a, b]) => {
    const [na, ea] = parts(a);
    const [nb, eb] = parts(b);
    return [na * nb, ea + eb] as [bigint, number];
  });
  const e = Math.min(...ps.map((p) => p[1]));
  let n = 0n;
  for (const [pn, pe] of ps) n += pn << BigInt(pe - e);
  return [n, e];
}

const FORMATS: Record<Fmt, { mant: number; minExp: number; max: number }> = {
  f32: { mant: 23, minExp: -126, max: (2 - 2 ** -23) * 2 ** 127 },
  f16: { mant: 10, minExp: -14, max: 65504 },
  bf16: { mant: 7, minExp: -126, max: (2 - 2 ** -7) * 2 ** 127 },
};

/** N * 2^E (N != 0) rounded to nearest-even in fmt: the value (+-Infinity past the range). */
export function roundExact(n: bigint, e: number, fmt: Fmt): number {
  const f = FORMATS[fmt];
  const neg = n < 0n;
  const a = neg ? -n : n;
  const top = a.toString(2).length - 1 + e; // floor(log2 |value|)
  const qe = Math.max(top, f.minExp) - f.mant;
  const shift = qe - e;
  let m: bigint;
  if (shift <= 0) m = a << BigInt(-shift);
  else {
    m = a >> BigInt(shift);
    const rem = a - (m << BigInt(shift));
    const half = 1n << BigInt(shift - 1);
    if (rem > half || (rem === half && (m & 1n) === 1n)) m += 1n;
  }
  let v = Number(m) * 2 ** qe;
  if (v > f.max) v = Infinity;
  return neg ? -v : v;
}

/** A double rounded once to fmt (zeros keep their sign). */
export function roundDouble(v: number, fmt: Fmt): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const [n, e] = parts(v);
  return roundExact(n, e, fmt);
}

const F = new Float32Array(1);
const U = new Uint32Array(F.buffer);

/** Bits of a value representable in fmt. */
export function encode(v: number, fmt: Fmt): number {
  if (fmt === 'f32') {
    F[0] = v;
    if (F[0] !== v && !(v !== v)) throw new Error(`${v} is not an f32`);
    return U[0];
  }
  if (fmt === 'bf16') {
    F[0] = v;
    if ((U[0] & 0xffff) !== 0) throw new Error(`${v} is not a bf16`);
    return U[0] >>> 16;
  }
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | (a * 2 ** 24);
  let e = -14;
  while (2 ** (e + 1) <= a) e++;
  const m = (a / 2 ** e - 1) * 1024;
  if (!Number.isInteger(m) || e > 15) throw new Error(`${v} is not an f16`);
  return sign | ((e + 15) << 10) | m;
}

export function decode(bits: number, fmt: Fmt): number {
  if (fmt === 'f32') {
    U[0] = bits;
    return F[0];
  }
  if (fmt === 'bf16') {
    U[0] = bits << 16;
    return F[0];
  }
  const e = (bits >>> 10) & 0x1f;
  const m = bits & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m === 0 ? Infinity : NaN) : (1 + m / 1024) * 2 ** (e - 15);
  return bits & 0x8000 ? -v : v;
}

/** cos and sin as the engines' float32 rows hold them: the exact angle's, rounded once. */
export function rowCosSin(position: number, invFreq: number, inverse: boolean): [number, number] {
  const [c, s] = exactCosSin(position, invFreq);
  return [Math.fround(c), Math.fround(inverse ? -s : s)];
}

/**
 * The cache's value for one rotated element: first = x*c - y*s (second: y*c + x*s, pass
 * y, x, -s... the caller passes (p, q, sign)). kFmt/cFmt: k's and the cache's dtype.
 * f32 cache: round32 once of p*c + sign*round32(q*s); 16-bit cache from 16-bit k: round16 of the
 * float64 result; from f32 k: round16 once of the exact value.
 */
export function rotatedValue(p: number, q: number, c: number, s: number, sign: 1 | -1, kFmt: Fmt, cFmt: Fmt): number {
  if (cFmt === 'f32') {
    const r = Math.fround(q * s);
    const [n, e] = exactSum([[p, c], [sign * r, 1]]);
    return n === 0n ? p * c + sign * r : roundExact(n, e, 'f32');
  }
  if (kFmt !== 'f32') return roundDouble(p * c + sign * (q * s), cFmt);
  const [n, e] = exactSum([[p, c], [sign * q, s]]);
  return n === 0n ? p * c + sign * (q * s) : roundExact(n, e, cFmt);
}
