// The exact pure-JS engine: the fallback wherever the addon does not load, and the readable
// reference the native kernels must match.
//
// Shape: an engine needs the Rope's geometry (headDim, rotaryDim, style, M-RoPE pairSection) that a
// CallPlan does not carry, and it owns that Rope's cos/sin cache and scratch. So the facade creates
// one per Rope: `createJsEngine(geometry)`, mirroring the native side's one NativeRope per Rope.
// `jsEngine` is the same factory as an object (`jsEngine.create(geometry)`); there is no
// geometry-free Engine singleton.
//
// One walk for every style and dtype: batch -> tokens -> (q, k) -> heads. Per (b, t) the cos/sin
// row is fetched from the cache (computed once per position) and reused for every head of q and k;
// the only per-variant code is the row loop (6 small monomorphic functions). For pair j with first
// x and second y: x' = x*c - y*s, y' = y*c + x*s, where c, s are the float32 row values (scaled, sign
// of s flipped for the inverse), computed in float64 and rounded once to the storage type.
import { CosSinCache, DEFAULT_CACHE_BYTES, type CacheBudget } from './cossin.js';
import { bf16ToNumber, f16DecodeTable, numberToBf16, numberToF16 } from './dtype.js';
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

// ---- row loops: rotate `heads` head rows starting at `base`, headStride apart -----------------
// tab[off + j] = cos of pair j, tab[off + half + j] = sin of pair j. Pair-outer, head-inner: c and s
// are loaded once per pair for all heads (one token's heads are a few KiB, they stay in L1), which
// measured ~30% faster than head-outer loops.

function halfF32(d: Float32Array, base: number, hs: number, heads: number, tab: Float32Array, off: number, half: number): void {
  for (let j = 0; j < half; j++) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let h = 0, i = base + j; h < heads; h++, i += hs) {
      const x = d[i];
      const y = d[i + half];
      d[i] = x * c - y * s;
      d[i + half] = y * c + x * s;
    }
  }
}

function interleavedF32(d: Float32Array, base: number, hs: number, heads: number, tab: Float32Array, off: number, half: number): void {
  for (let j = 0; j < half; j++) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let h = 0, i = base + 2 * j; h < heads; h++, i += hs) {
      const x = d[i];
      const y = d[i + 1];
      d[i] = x * c - y * s;
      d[i + 1] = y * c + x * s;
    }
  }
}

function halfF16(d: Uint16Array, base: number, hs: number, heads: number, tab: Float32Array, off: number, half: number): void {
  const dec = f16DecodeTable();
  for (let j = 0; j < half; j++) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let h = 0, i = base + j; h < heads; h++, i += hs) {
      const x = dec[d[i]];
      const y = dec[d[i + half]];
      d[i] = numberToF16(x * c - y * s);
      d[i + half] = numberToF16(y * c + x * s);
    }
  }
}

function interleavedF16(d: Uint16Array, base: number, hs: number, heads: number, tab: Float32Array, off: number, half: number): void {
  const dec = f16DecodeTable();
  for (let j = 0; j < half; j++) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let h = 0, i = base + 2 * j; h < heads; h++, i += hs) {
      const x = dec[d[i]];
      const y = dec[d[i + 1]];
      d[i] = numberToF16(x * c - y * s);
      d[i + 1] = numberToF16(y * c + x * s);
    }
  }
}

function halfBf16(d: Uint16Array, base: number, hs: number, heads: number, tab: Float32Array, off: number, half: number): void {
  for (let j = 0; j < half; j++) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let h = 0, i = base + j; h < heads; h++, i += hs) {
      const x = bf16ToNumber(d[i]);
      const y = bf16ToNumber(d[i + half]);
      d[i] = numberToBf16(x * c - y * s);
      d[i + half] = numberToBf16(y * c + x * s);
    }
  }
}

function interleavedBf16(d: Uint16Array, base: number, hs: number, heads: number, tab: Float32Array, off: number, half: number): void {
  for (let j = 0; j < half; j++) {
    const c = tab[off + j];
    const s = tab[off + half + j];
    for (let h = 0, i = base + 2 * j; h < heads; h++, i += hs) {
      const x = bf16ToNumber(d[i]);
      const y = bf16ToNumber(d[i + 1]);
      d[i] = numberToBf16(x * c - y * s);
      d[i + 1] = numberToBf16(y * c + x * s);
    }
  }
}

/** Rotates every head of tensor tp at (b, t) with the row tab[off ..]. One switch per (b, t, tensor):
 * each case is a monomorphic call site. */
function rotateHeads(tp: TensorPlan, interleaved: boolean, b: number, t: number, tab: Float32Array, off: number, half: number): void {
  const base = tp.offset + b * tp.batchStride + t * tp.tokenStride;
  const hs = tp.headStride;
  const heads = tp.heads;
  if (tp.dtype === DTYPE_F16) {
    if (interleaved) interleavedF16(tp.data as Uint16Array, base, hs, heads, tab, off, half);
    else halfF16(tp.data as Uint16Array, base, hs, heads, tab, off, half);
  } else if (tp.dtype === DTYPE_BF16) {
    if (interleaved) interleavedBf16(tp.data as Uint16Array, base, hs, heads, tab, off, half);
    else halfBf16(tp.data as Uint16Array, base, hs, heads, tab, off, half);
  } else if (interleaved) {
    interleavedF32(tp.data as Float32Array, base, hs, heads, tab, off, half);
  } else {
    halfF32(tp.data as Float32Array, base, hs, heads, tab, off, half);
  }
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

/** The JS engine factory: `jsEngine.create(geometry)` gives one Rope's engine. */
export const jsEngine = {
  name: 'js' as const,
  create: createJsEngine,
};
