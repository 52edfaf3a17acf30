// The exact pure-JS engine: the fallback wherever the addon does not load, and the readable
// reference the native kernels must match.
//
// Shape: an engine needs the Rope's geometry (headDim, rotaryDim, style, M-RoPE pairSection) that a
// CallPlan does not carry, and it owns that Rope's cos/sin cache and scratch. So the facade creates
// one per Rope: `createJsEngine(geometry)`, mirroring the native side's one NativeRope per Rope.
// There is no geometry-free Engine singleton.
//
// One walk for every style and dtype: batch -> tokens -> (q, k) -> heads. Per (b, t) the cos/sin
// row is fetched from the cache (computed once per position) and reused for every head of q and k;
// the only per-variant code is the row loop (one function per dtype; the style is two strides). For
// pair j with first x and second y: x' = x*c - y*s, y' = y*c + x*s, where c, s are the float32 row
// values (scaled, sign of s flipped for the inverse), computed in float64 and rounded once to the
// storage type (f32: with y*s and x*s rounded to f32 first, see rowF32).
import { CosSinCache, DEFAULT_CACHE_BYTES, type CacheBudget } from './cossin.js';
import { f16DecodeTable, numberToF16 } from './dtype.js';
import {
  DTYPE_BF16,
  DTYPE_F16,
  STYLE_INTERLEAVED,
  type CallPlan,
  type Engine,
  type RopeGeometry,
  type TensorPlan,
} from './types.js';

/** Caches kept per engine: a Rope normally has one frequency set; dynamic/LongRoPE scalings
 * alternate between a few. Older ones are dropped (and their bytes returned to the budget). */
const MAX_CACHES = 4;

// ---- row loops ------------------------------------------------------------------------------
// Rotate pair j of every head row at base, base + hs, ... (< end). In a head row, pair j's first
// element is at j*step and its second po further on: `half` style step 1, po = half; `interleaved`
// step 2, po 1. tab[off + j] = cos of pair j, tab[off + half + j] = sin of pair j.
// - Pair-outer, head-inner: c and s are loaded once per pair for all heads (one token's heads are a
//   few KiB, they stay in L1), measured ~30% faster than head-outer loops.
// - Two pairs per inner iteration (plus a tail for an odd pair count): V8 re-checks each typed
//   array's map and reloads its data pointer on every iteration, so more work per iteration is
//   cheaper per pair (~10-15% measured).
// - One function per dtype, each seeing one array type: a typed-array access that sees both
//   Float32Array and Uint16Array is polymorphic and much slower. The f16/bf16 decode and encode are
//   written into the loops with local scratch views: V8 re-loads and re-checks module-level arrays
//   on every use, and a helper it declines to inline leaves a call (and register spills) in the loop.

// f32: y*s and x*s rounded to f32 before the sum (x*c is exact in float64): the value every FMA
// kernel computes (native/kernels/loops.h, "Rounding contract"), so the engines agree on the sign of
// every result, zeros included, and on its value but where float64 rounding lands on an f32 tie.
// (Math.fround written in the loop: V8 inlines it as one conversion.)
function rowF32(d: Float32Array, base: number, hs: number, end: number, tab: Float32Array, off: number, half: number, step: number, po: number): void {
  let j = 0;
  for (; j + 1 < half; j += 2) {
    const c0 = tab[off + j];
    const s0 = tab[off + half + j];
    const c1 = tab[off + j + 1];
    const s1 = tab[off + half + j + 1];
    for (let i = base + j * step; i < end; i += hs) {
      const x0 = d[i];
      const y0 = d[i + po];
      const x1 = d[i + step];
      const y1 = d[i + step + po];
      d[i] = x0 * c0 - Math.fround(y0 * s0);
      d[i + po] = y0 * c0 + Math.fround(x0 * s0);
      d[i + step] = x1 * c1 - Math.fround(y1 * s1);
      d[i + step + po] = y1 * c1 + Math.fround(x1 * s1);
    }
  }
  if (j < half) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let i = base + j * step; i < end; i += hs) {
      const x = d[i];
      const y = d[i + po];
      d[i] = x * c - Math.fround(y * s);
      d[i + po] = y * c + Math.fround(x * s);
    }
  }
}

// bf16: a bf16 is the top half of a float32, so decoding is bits << 16 read back through a float32
// view. Encoding is numberToBf16 (dtype.ts) without its NaN branch: Math.fround(v) through the
// scratch, then round the low 16 bits to nearest-even; where the float32 lies exactly on a bf16 tie
// and fround was inexact, step to the float32 neighbour on v's side first (no double rounding).
// A NaN needs no branch here: it comes from NaN/Infinity inputs, which are float32s with the low 16
// bits clear, so it is a quiet NaN with the low 16 bits clear and the rounding keeps it as it is.
const SCRATCH_F32 = new Float32Array(4);
const SCRATCH_I32 = new Int32Array(SCRATCH_F32.buffer);

function rowBf16(d: Uint16Array, base: number, hs: number, end: number, tab: Float32Array, off: number, half: number, step: number, po: number): void {
  const f = SCRATCH_F32;
  const bits = SCRATCH_I32;
  let j = 0;
  for (; j + 1 < half; j += 2) {
    const c0 = tab[off + j];
    const s0 = tab[off + half + j];
    const c1 = tab[off + j + 1];
    const s1 = tab[off + half + j + 1];
    for (let i = base + j * step; i < end; i += hs) {
      bits[0] = d[i] << 16;
      bits[1] = d[i + po] << 16;
      bits[2] = d[i + step] << 16;
      bits[3] = d[i + step + po] << 16;
      const x0 = f[0], y0 = f[1], x1 = f[2], y1 = f[3];
      const v0 = x0 * c0 - y0 * s0;
      const v1 = y0 * c0 + x0 * s0;
      const v2 = x1 * c1 - y1 * s1;
      const v3 = y1 * c1 + x1 * s1;
      f[0] = v0;
      f[1] = v1;
      f[2] = v2;
      f[3] = v3;
      let b0 = bits[0], b1 = bits[1], b2 = bits[2], b3 = bits[3];
      if ((b0 & 0xffff) === 0x8000 && f[0] !== v0) b0 += Math.abs(f[0]) > Math.abs(v0) ? -1 : 1;
      if ((b1 & 0xffff) === 0x8000 && f[1] !== v1) b1 += Math.abs(f[1]) > Math.abs(v1) ? -1 : 1;
      if ((b2 & 0xffff) === 0x8000 && f[2] !== v2) b2 += Math.abs(f[2]) > Math.abs(v2) ? -1 : 1;
      if ((b3 & 0xffff) === 0x8000 && f[3] !== v3) b3 += Math.abs(f[3]) > Math.abs(v3) ? -1 : 1;
      d[i] = (b0 + 0x7fff + ((b0 >>> 16) & 1)) >>> 16;
      d[i + po] = (b1 + 0x7fff + ((b1 >>> 16) & 1)) >>> 16;
      d[i + step] = (b2 + 0x7fff + ((b2 >>> 16) & 1)) >>> 16;
      d[i + step + po] = (b3 + 0x7fff + ((b3 >>> 16) & 1)) >>> 16;
    }
  }
  if (j < half) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let i = base + j * step; i < end; i += hs) {
      bits[0] = d[i] << 16;
      bits[1] = d[i + po] << 16;
      const x = f[0], y = f[1];
      const v0 = x * c - y * s;
      const v1 = y * c + x * s;
      f[0] = v0;
      f[1] = v1;
      let b0 = bits[0], b1 = bits[1];
      if ((b0 & 0xffff) === 0x8000 && f[0] !== v0) b0 += Math.abs(f[0]) > Math.abs(v0) ? -1 : 1;
      if ((b1 & 0xffff) === 0x8000 && f[1] !== v1) b1 += Math.abs(f[1]) > Math.abs(v1) ? -1 : 1;
      d[i] = (b0 + 0x7fff + ((b0 >>> 16) & 1)) >>> 16;
      d[i + po] = (b1 + 0x7fff + ((b1 >>> 16) & 1)) >>> 16;
    }
  }
}

// f16: decoding is a table lookup. Encoding is numberToF16's common case written in: fround(v)
// through the scratch, a float32 in f16's normal range that is not on an f16 tie is rebiased and its
// 13 low bits rounded to nearest-even; anything else (zero, subnormal, overflow, NaN, a tie) goes to
// numberToF16 itself.
function rowF16(d: Uint16Array, base: number, hs: number, end: number, tab: Float32Array, off: number, half: number, step: number, po: number): void {
  const dec = f16DecodeTable();
  const f = SCRATCH_F32;
  const bits = SCRATCH_I32;
  for (let j = 0; j < half; j++) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let i = base + j * step; i < end; i += hs) {
      const x = dec[d[i]];
      const y = dec[d[i + po]];
      const v0 = x * c - y * s;
      const v1 = y * c + x * s;
      f[0] = v0;
      f[1] = v1;
      const b0 = bits[0], b1 = bits[1];
      const m0 = b0 & 0x7fffffff, m1 = b1 & 0x7fffffff;
      // common case: |fround(v)| in [2^-14, 2^16) and not on an f16 tie
      if (m0 >= 0x38800000 && m0 < 0x47800000 && (m0 & 0x1fff) !== 0x1000) {
        d[i] = ((b0 >>> 16) & 0x8000) | ((m0 - 0x38000000 + 0xfff + ((m0 >>> 13) & 1)) >>> 13);
      } else {
        d[i] = numberToF16(v0);
      }
      if (m1 >= 0x38800000 && m1 < 0x47800000 && (m1 & 0x1fff) !== 0x1000) {
        d[i + po] = ((b1 >>> 16) & 0x8000) | ((m1 - 0x38000000 + 0xfff + ((m1 >>> 13) & 1)) >>> 13);
      } else {
        d[i + po] = numberToF16(v1);
      }
    }
  }
}

/** Rotates every head of tensor tp at (b, t) with the row tab[off ..]. One branch per (b, t, tensor);
 * each call site is monomorphic. */
function rotateHeads(tp: TensorPlan, interleaved: boolean, b: number, t: number, tab: Float32Array, off: number, half: number): void {
  const base = tp.offset + b * tp.batchStride + t * tp.tokenStride;
  const hs = tp.headStride;
  const end = base + tp.heads * hs; // headStride >= headDim > 0 whenever there are rows
  const step = interleaved ? 2 : 1;
  const po = interleaved ? 1 : half;
  if (tp.dtype === DTYPE_BF16) rowBf16(tp.data as Uint16Array, base, hs, end, tab, off, half, step, po);
  else if (tp.dtype === DTYPE_F16) rowF16(tp.data as Uint16Array, base, hs, end, tab, off, half, step, po);
  else rowF32(tp.data as Float32Array, base, hs, end, tab, off, half, step, po);
}

class JsEngine implements Engine {
  private readonly half: number;
  private readonly interleaved: boolean;
  private readonly pairSection: Uint8Array | null;
  private readonly sectionRows: number;
  /** The row actually used when it must be assembled (M-RoPE gather, inverse sign). */
  private readonly rowBuf: Float32Array;
  /** One scratch row per positions row, for rows past the cache cap. */
  private readonly slotBuf: Float32Array;
  private readonly secTab: Float32Array[];
  private readonly secOff: Int32Array;
  private readonly budget: CacheBudget;
  private caches: CosSinCache[] = [];

  constructor(geometry: RopeGeometry, cacheBytes: number) {
    this.half = geometry.rotaryDim / 2;
    this.interleaved = geometry.style === STYLE_INTERLEAVED;
    this.pairSection = geometry.pairSection;
    this.sectionRows = Math.max(1, geometry.sectionRows);
    this.rowBuf = new Float32Array(2 * this.half);
    this.slotBuf = new Float32Array(2 * this.half * this.sectionRows);
    this.secTab = new Array<Float32Array>(this.sectionRows).fill(this.rowBuf);
    this.secOff = new Int32Array(this.sectionRows);
    this.budget = { used: 0, cap: cacheBytes };
  }

  /** The cache of this frequency set, most recently used first. */
  private cacheFor(invFreq: Float64Array, attentionScaling: number): CosSinCache {
    const caches = this.caches;
    if (caches.length > 0 && caches[0].matches(invFreq, attentionScaling)) return caches[0];
    for (let i = 1; i < caches.length; i++) {
      if (caches[i].matches(invFreq, attentionScaling)) {
        const c = caches[i];
        caches.splice(i, 1);
        caches.unshift(c);
        return c;
      }
    }
    // a new set, or an old array edited in place: drop stale caches of the same array
    for (let i = caches.length - 1; i >= 0; i--) {
      if (caches[i].source === invFreq) caches.splice(i, 1)[0].release();
    }
    if (caches.length >= MAX_CACHES) caches.pop()!.release();
    const c = new CosSinCache(invFreq, attentionScaling, this.budget);
    caches.unshift(c);
    return c;
  }

  apply(plan: CallPlan): void {
    const half = this.half;
    const interleaved = this.interleaved;
    const cache = this.cacheFor(plan.invFreq, plan.attentionScaling);
    const { q, k, batch, tokens, inverse, positions, positionOffset } = plan;
    const pbs = plan.positionsBatchStride;
    const prs = plan.positionsRowStride;
    const sections = positions === null ? null : this.pairSection;
    const rowBuf = this.rowBuf;
    const slotBuf = this.slotBuf;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < tokens; t++) {
        let tab: Float32Array;
        let off: number;
        if (sections === null) {
          cache.row(positions === null ? positionOffset + t : positions[b * pbs + t], slotBuf, 0);
          tab = cache.tab;
          off = cache.off;
        } else {
          this.gatherSections(cache, positions!, b * pbs + t, prs, sections);
          tab = rowBuf;
          off = 0;
        }
        if (inverse) {
          // rotate by -angle: same cos, negated sin (exact; float32 rounding is symmetric)
          if (tab !== rowBuf) for (let j = 0; j < half; j++) rowBuf[j] = tab[off + j];
          for (let j = 0; j < half; j++) rowBuf[half + j] = -tab[off + half + j];
          tab = rowBuf;
          off = 0;
        }
        rotateHeads(q, interleaved, b, t, tab, off, half);
        if (k !== null) rotateHeads(k, interleaved, b, t, tab, off, half);
      }
    }
  }

  /** M-RoPE: pair j takes its cos/sin from the row of positions row pairSection[j]. */
  private gatherSections(cache: CosSinCache, positions: Int32Array, at: number, rowStride: number, sections: Uint8Array): void {
    const half = this.half;
    const rowLen = 2 * half;
    const secTab = this.secTab;
    const secOff = this.secOff;
    for (let r = 0; r < this.sectionRows; r++) {
      cache.row(positions[r * rowStride + at], this.slotBuf, r * rowLen);
      secTab[r] = cache.tab;
      secOff[r] = cache.off;
    }
    const rowBuf = this.rowBuf;
    for (let j = 0; j < half; j++) {
      const r = sections[j];
      const src = secTab[r];
      const o = secOff[r];
      rowBuf[j] = src[o + j];
      rowBuf[half + j] = src[o + half + j];
    }
  }
}

/** One engine per Rope: geometry fixed, cos/sin rows cached up to cacheBytes (default 32 MiB). */
export function createJsEngine(geometry: RopeGeometry, cacheBytes: number = DEFAULT_CACHE_BYTES): Engine {
  return new JsEngine(geometry, cacheBytes);
}
