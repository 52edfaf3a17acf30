// The cache write of applyQK (docs/guide/kv-cache.md), exact, in JS: the js engine's (the engine rotates
// q; this writes the rotated k and the unrotated v into the cache rows), and the fallback of an
// addon built without the native cache write. The native and wasm kernels compute the same bits.
//
// Rounding, per pair with first x, second y and the float32 row values c, s (lib/cossin.ts, the
// engines' own rows):
// - f32 cache: round32(x*c - round32(y*s)) and round32(y*c + round32(x*s)), each rounded ONCE
//   from the exact value: what an FMA kernel computes in place (docs/maintainers/kernels-rounding.md), for
//   f32 and 16-bit k alike.
// - 16-bit cache from 16-bit k: round16(round64(x*c - y*s)), the in-place 16-bit contract.
// - 16-bit cache from f32 k: round16(x*c - y*s), once, from the exact value (no f32 step).
// Pass-through dims and v are converted (f32 -> 16-bit rounded once, 16-bit -> f32 exact, same
// dtype copied bit for bit).
//
// Why the exact cases are exact: x, y and c, s have at most 24 significant bits, so x*c and y*s
// (and round32(y*s)) are exact doubles. TwoSum gives hi = round64(a + b) and lo with
// a + b = hi + lo exactly (no overflow: |a|, |b| < 2^257; no underflow: both are multiples of
// 2^-298). Let e = hi + lo and R a target format (f32, f16, bf16) whose rounding midpoints are all
// doubles. If round_R(e) != round_R(hi), a midpoint m of R lies between e and hi or equals e.
// m strictly between is impossible: m would be a double closer to e than hi = round64(e). m = e
// makes e a double, so lo = 0 and hi = e. So the roundings differ only when lo != 0 and hi is
// itself a midpoint; then the correct result is the neighbour on lo's side, which rounding
// hi * (1 +- 2^-p) gives: that product is exact (a midpoint has at most 12 (16-bit) or 25 (f32)
// significant bits, 1 +- 2^-p at most p + 1, p = 40 or 27: <= 53 in all) and lies strictly
// between m and the next representable value or midpoint (2^-p relative, the format's grid is
// >= 2^-11 / 2^-24 relative to m, and subnormal grids are coarser still). numberToF16/Bf16 and
// a Float32Array store round a double once (lib/dtype.ts).
import { CosSinCache, type CacheBudget } from './cossin.js';
import { f16DecodeTable, numberToBf16, numberToF16 } from './dtype.js';
import { DTYPE_BF16, DTYPE_F16, DTYPE_F32, STYLE_INTERLEAVED, type CachePlan, type CallPlan, type DType, type RopeGeometry, type TensorPlan } from './types.js';

const F64 = new Float64Array(1);
const W32 = new Uint32Array(F64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE ? 0 : 1;
const HI = LITTLE ? 1 : 0;

/** Whether the double h lies exactly halfway between two neighbours of `dtype` (finite range). */
export function isMidpoint(h: number, dtype: DType): boolean {
  const a = Math.abs(h);
  if (dtype === DTYPE_F32) {
    if (a < 2 ** -126) return isOddInt(a * 2 ** 150);
    if (a >= 2 ** 128) return false;
    F64[0] = h;
    return (W32[LO] & 0x1fffffff) === 0x10000000; // the 29 bits f32 drops: 1 then zeros
  }
  if (dtype === DTYPE_F16) {
    if (a < 2 ** -14) return isOddInt(a * 2 ** 25);
    if (a >= 65536) return false;
    F64[0] = h;
    return (W32[HI] & 0x3ff) === 0x200 && W32[LO] === 0; // the 42 bits f16 drops
  }
  if (a < 2 ** -126) return isOddInt(a * 2 ** 134);
  if (a >= 2 ** 128) return false;
  F64[0] = h;
  return (W32[HI] & 0x1fff) === 0x1000 && W32[LO] === 0; // the 45 bits bf16 drops
}

function isOddInt(t: number): boolean {
  return Number.isInteger(t) && t % 2 === 1;
}

/** a + b (exact doubles) rounded once to dtype: a value for an f32 store, or 16-bit bits. */
export function roundSumOnce(a: number, b: number, dtype: DType): number {
  const hi = a + b;
  const bv = hi - a;
  const lo = a - (hi - bv) + (b - bv);
  let h = hi;
  if (lo !== 0 && isMidpoint(hi, dtype)) {
    const p = dtype === DTYPE_F32 ? 2 ** -27 : 2 ** -40;
    h = hi * (lo > 0 === hi > 0 ? 1 + p : 1 - p);
  }
  return dtype === DTYPE_F32 ? h : dtype === DTYPE_F16 ? numberToF16(h) : numberToBf16(h);
}

const SCR = new Float32Array(1);
const SCR_I = new Int32Array(SCR.buffer);

const decodeF16 = (b: number): number => f16DecodeTable()[b];
const decodeBf16 = (b: number): number => {
  SCR_I[0] = b << 16;
  return SCR[0];
};
const decoder = (dtype: DType): ((bits: number) => number) => (dtype === DTYPE_F16 ? decodeF16 : decodeBf16);

// Float32Array data as Int32 bits (bit-exact copies: a NaN read as a number may change its bits).
function bitsOf(d: Float32Array | Uint16Array): Int32Array | Uint16Array {
  return d instanceof Uint16Array ? d : new Int32Array(d.buffer, d.byteOffset, d.length);
}

const encoder = (dtype: DType): ((v: number) => number) => (dtype === DTYPE_F16 ? numberToF16 : numberToBf16);

/** n elements from src[s0..] to dst[d0..], converted (same dtype: the bits). */
function convert(src: Float32Array | Uint16Array, sd: DType, sBits: Int32Array | Uint16Array, s0: number, dst: Float32Array | Uint16Array, dd: DType, dBits: Int32Array | Uint16Array, d0: number, n: number): void {
  if (sd === dd) {
    for (let i = 0; i < n; i++) dBits[d0 + i] = sBits[s0 + i];
  } else if (sd === DTYPE_F32) {
    const enc = encoder(dd);
    for (let i = 0; i < n; i++) dst[d0 + i] = enc(src[s0 + i]);
  } else {
    const dec = decoder(sd);
    if (dd === DTYPE_F32) for (let i = 0; i < n; i++) dst[d0 + i] = dec(src[s0 + i]);
    else {
      const enc = encoder(dd);
      for (let i = 0; i < n; i++) dst[d0 + i] = enc(dec(src[s0 + i]));
    }
  }
}

/** One Rope's cache writer: its geometry, a cos/sin row cache and scratch. */
export class CacheWriter {
  private readonly headDim: number;
  private readonly rotaryDim: number;
  private readonly rotaryOffset: number;
  private readonly half: number;
  private readonly step: number;
  private readonly po: number;
  private readonly pairSection: Uint8Array | null;
  private readonly sectionRows: number;
  private readonly row: Float32Array;
  private readonly slotBuf: Float32Array;
  private readonly xs: Float64Array;
  private readonly budget: CacheBudget = { used: 0, cap: 8 << 20 };
  private rows: CosSinCache | null = null;

  constructor(g: RopeGeometry) {
    this.headDim = g.headDim;
    this.rotaryDim = g.rotaryDim;
    this.rotaryOffset = g.rotaryOffset ?? 0;
    this.half = g.rotaryDim / 2;
    const il = g.style === STYLE_INTERLEAVED;
    this.step = il ? 2 : 1;
    this.po = il ? 1 : this.half;
    this.pairSection = g.pairSection;
    this.sectionRows = Math.max(1, g.sectionRows);
    this.row = new Float32Array(2 * this.half);
    this.slotBuf = new Float32Array(2 * this.half * this.sectionRows);
    this.xs = new Float64Array(g.headDim);
  }

  /** Writes plan.cache's rows for every token of plan (batch 1; checked by lib/cache.ts). */
  write(plan: CallPlan): void {
    const c = plan.cache!;
    const k = plan.k!;
    let rows = this.rows;
    if (rows === null || !rows.matches(plan.invFreq, plan.attentionScaling)) {
      rows?.release();
      rows = this.rows = new CosSinCache(plan.invFreq, plan.attentionScaling, this.budget);
    }
    const kSrcBits = bitsOf(k.data);
    const kDstBits = bitsOf(c.kData);
    const v = c.v;
    const vSrcBits = v === null ? null : bitsOf(v.data);
    const vDstBits = c.vData === null ? null : bitsOf(c.vData);
    for (let t = 0; t < plan.tokens; t++) {
      const slot = c.slots === null ? c.slotStart + t : c.slots[c.slotsAt + t];
      if (slot < 0) continue;
      this.cosSin(plan, rows, t);
      const dst = slot * c.slotStride;
      for (let h = 0; h < k.heads; h++) {
        const d0 = dst + h * c.headStride;
        const s0 = k.offset + t * k.tokenStride + h * k.headStride;
        const ro = this.rotaryOffset;
        this.rotate(k, s0 + ro, c, d0 + ro);
        if (this.rotaryDim < this.headDim) {
          // the values that do not rotate: after the rotated ones, or before them ('trailing')
          const p0 = ro === 0 ? this.rotaryDim : 0;
          convert(k.data, k.dtype, kSrcBits, s0 + p0, c.kData, c.dtype, kDstBits, d0 + p0, this.headDim - this.rotaryDim);
        }
        if (v !== null) convert(v.data, v.dtype, vSrcBits!, v.offset + t * v.tokenStride + h * v.headStride, c.vData!, c.dtype, vDstBits!, d0, this.headDim);
      }
    }
  }

  // this.row = [cos | sin] of token t (M-RoPE: pair j from its section's position; inverse: -sin).
  private cosSin(plan: CallPlan, rows: CosSinCache, t: number): void {
    const half = this.half;
    const row = this.row;
    const p = plan.positions;
    if (p === null || this.pairSection === null) {
      rows.row(p === null ? plan.positionOffset + t : p[t], this.slotBuf, 0);
      for (let j = 0; j < 2 * half; j++) row[j] = rows.tab[rows.off + j];
    } else {
      const len = 2 * half;
      for (let r = 0; r < this.sectionRows; r++) {
        rows.row(p[r * plan.positionsRowStride + t], this.slotBuf, r * len);
        const tab = rows.tab, off = rows.off;
        for (let j = 0; j < half; j++) {
          if (this.pairSection[j] !== r) continue;
          row[j] = tab[off + j];
          row[half + j] = tab[off + half + j];
        }
      }
    }
    if (plan.inverse) for (let j = half; j < 2 * half; j++) row[j] = -row[j];
  }

  // The rotary dims of one head of k, from k.data[s0..] to the cache row at d0.
  private rotate(k: TensorPlan, s0: number, c: CachePlan, d0: number): void {
    const { half, step, po, row, xs } = this;
    const src = k.data;
    if (k.dtype === DTYPE_F32) for (let i = 0; i < this.rotaryDim; i++) xs[i] = src[s0 + i];
    else {
      const dec = decoder(k.dtype);
      for (let i = 0; i < this.rotaryDim; i++) xs[i] = dec(src[s0 + i]);
    }
    const out = c.kData;
    const cd = c.dtype;
    const contract16 = cd !== DTYPE_F32 && k.dtype !== DTYPE_F32;
    const enc = contract16 ? encoder(cd) : null;
    // (one loop per case: the branch stays out of the pair loop)
    if (cd === DTYPE_F32) {
      for (let j = 0; j < half; j++) {
        const cj = row[j], sj = row[half + j], ix = j * step, iy = ix + po, x = xs[ix], y = xs[iy];
        out[d0 + ix] = roundSumOnce(x * cj, -Math.fround(y * sj), DTYPE_F32);
        out[d0 + iy] = roundSumOnce(y * cj, Math.fround(x * sj), DTYPE_F32);
      }
    } else if (enc !== null) {
      for (let j = 0; j < half; j++) {
        const cj = row[j], sj = row[half + j], ix = j * step, iy = ix + po, x = xs[ix], y = xs[iy];
        out[d0 + ix] = enc(x * cj - y * sj);
        out[d0 + iy] = enc(y * cj + x * sj);
      }
    } else {
      for (let j = 0; j < half; j++) {
        const cj = row[j], sj = row[half + j], ix = j * step, iy = ix + po, x = xs[ix], y = xs[iy];
        out[d0 + ix] = roundSumOnce(x * cj, -(y * sj), cd);
        out[d0 + iy] = roundSumOnce(y * cj, x * sj, cd);
      }
    }
  }
}

/** Anything with apply (an engine, or a slice's engine). */
interface Applies {
  apply(plan: CallPlan): void;
  ownsMemory?(data: Float32Array | Uint16Array): boolean;
  rebind?(data: Float32Array | Uint16Array, byteOffset: number, length: number): Float32Array | Uint16Array | null;
}

// The arrays the cache write reads or writes that live in the wasm module's memory: the engine's
// q rotation may grow that memory (detaching those views), so they are viewed again after it.
function homes(engine: Applies, plan: CallPlan): (() => void) | null {
  if (engine.ownsMemory === undefined) return null;
  const c = plan.cache!;
  const k = plan.k!;
  const fix: (() => void)[] = [];
  const watch = (get: () => Float32Array | Uint16Array, set: (d: Float32Array | Uint16Array) => void): void => {
    const d = get();
    if (!engine.ownsMemory!(d)) return;
    const at = d.byteOffset, n = d.length;
    fix.push(() => {
      const now = engine.rebind!(get(), at, n);
      if (now !== null) set(now);
    });
  };
  watch(() => k.data, (d) => (k.data = d));
  watch(() => c.kData, (d) => (c.kData = d));
  if (c.v !== null) watch(() => c.v!.data, (d) => (c.v!.data = d));
  if (c.vData !== null) watch(() => c.vData!, (d) => (c.vData = d));
  return fix.length === 0 ? null : () => fix.forEach((f) => f());
}

/** What fills the cache after the engine rotated q: a CacheWriter, or the wasm engine's. */
export interface CacheWriteFn {
  write(plan: CallPlan): void;
}

/** The engine rotates q (k as none), then the writer fills the cache from k and v. */
export function applyWithCache(engine: Applies, writer: CacheWriteFn, plan: CallPlan): void {
  const k = plan.k;
  const rebind = homes(engine, plan);
  plan.k = null;
  try {
    engine.apply(plan);
  } finally {
    plan.k = k;
  }
  rebind?.();
  writer.write(plan);
}

