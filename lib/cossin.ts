// cos/sin rows with exact angles, and the per-frequency-set row cache.
//
// Exactness: angle = position * invFreq is formed as an unevaluated sum hi + lo (Dekker's
// two-product: position split 15+16 bits, invFreq split 26+26 bits by Veltkamp, every partial
// product exact), so it is exact for every position < 2^31. cos/sin of hi come from Math.cos /
// Math.sin (V8's fdlibm, full argument reduction), corrected by lo to second order:
// cos(hi+lo) = cos(hi)(1 - lo^2/2) - sin(hi) lo (|lo| <= 2^-23 for invFreq <= 1; the dropped
// lo^3/6 is < 1e-21). Past |lo| = 2^-20 (invFreq > 1 at large positions: |lo| reaches 2^-3 at
// invFreq 2^21) the correction takes sin(lo) and 1 - cos(lo) = 2 sin(lo/2)^2 themselves.
// The native CosSinRow forms the same product with FMA; both round scale*cos and scale*sin to
// float32 once.
//
// A row for one position is 2*half float32: cos of every pair, then sin of every pair, already
// multiplied by attentionScaling. Every layer of a model rotates the same positions, so rows are
// cached per frequency set, in blocks of BLOCK positions allocated on first touch and filled row by
// row; a byte budget caps the cache, and rows past it are computed into the caller's scratch.
import type { RopeGeometry } from './types.js';

export const BLOCK_SHIFT = 6;
export const BLOCK = 1 << BLOCK_SHIFT;
/** Default cap of all cached rows of one Rope (one engine). */
export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

const VELTKAMP = 134217729; // 2^27 + 1
/** Below this |lo| the second-order series is exact to double precision (lo^3/6 < 2^-62). */
const LO_SERIES = 2 ** -20;

/** Splits a double into a 26-bit high part and a 26-bit (signed) rest: f = hi + lo exactly. */
function splitHi(f: number): number {
  const t = VELTKAMP * f;
  return t - (t - f);
}

/** invFreq with its Veltkamp halves, precomputed once per frequency set. */
export interface SplitFrequencies {
  f: Float64Array;
  hi: Float64Array;
  lo: Float64Array;
}

export function splitFrequencies(invFreq: Float64Array): SplitFrequencies {
  const n = invFreq.length;
  const f = Float64Array.from(invFreq);
  const hi = new Float64Array(n);
  const lo = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    hi[j] = splitHi(f[j]);
    lo[j] = f[j] - hi[j];
  }
  return { f, hi, lo };
}

/**
 * Writes float32(scale*cos(p*f_j)) to out[cOff + j] and float32(scale*sin(p*f_j)) to out[sOff + j]
 * for pairs j in [j0, j1). p is an integer in [0, 2^31).
 */
export function fillPairs(
  p: number,
  fr: SplitFrequencies,
  j0: number,
  j1: number,
  scale: number,
  out: Float32Array,
  cOff: number,
  sOff: number,
): void {
  const f = fr.f;
  const fHi = fr.hi;
  const fLo = fr.lo;
  const pl = p & 0xffff; // p < 2^31: both halves are exact small integers
  const ph = p - pl;
  for (let j = j0; j < j1; j++) {
    const hi = p * f[j];
    const lo = ph * fHi[j] - hi + ph * fLo[j] + pl * fHi[j] + pl * fLo[j];
    const c0 = Math.cos(hi);
    const s0 = Math.sin(hi);
    if (lo < LO_SERIES && lo > -LO_SERIES) {
      const h2 = 0.5 * lo * lo;
      out[cOff + j] = scale * (c0 - s0 * lo - c0 * h2);
      out[sOff + j] = scale * (s0 + c0 * lo - s0 * h2);
    } else {
      const sl = Math.sin(lo);
      const sh = Math.sin(0.5 * lo);
      const h = 2 * sh * sh;
      out[cOff + j] = scale * (c0 - s0 * sl - c0 * h);
      out[sOff + j] = scale * (s0 + c0 * sl - s0 * h);
    }
  }
}

/** cos and sin (float64, unscaled) of the exact angle position*invFreq; for tests and tools. */
export function cosSinExact(position: number, invFreq: number, out: Float64Array): void {
  const fHi = splitHi(invFreq);
  const fLo = invFreq - fHi;
  const pl = position & 0xffff;
  const ph = position - pl;
  const hi = position * invFreq;
  const lo = ph * fHi - hi + ph * fLo + pl * fHi + pl * fLo;
  const c0 = Math.cos(hi);
  const s0 = Math.sin(hi);
  const series = lo < LO_SERIES && lo > -LO_SERIES;
  const sl = series ? lo : Math.sin(lo);
  const h = series ? 0.5 * lo * lo : 2 * Math.sin(0.5 * lo) ** 2;
  out[0] = c0 - s0 * sl - c0 * h;
  out[1] = s0 + c0 * sl - s0 * h;
}

/** Bytes used by all caches of one engine (one Rope), against their common cap. */
export interface CacheBudget {
  used: number;
  cap: number;
}

class Block {
  readonly rows: Float32Array;
  readonly filled: Uint8Array;
  constructor(rowLen: number) {
    this.rows = new Float32Array(BLOCK * rowLen);
    this.filled = new Uint8Array(BLOCK);
  }
}

/** Rows of one frequency set (invFreq contents + attentionScaling). */
export class CosSinCache {
  readonly source: Float64Array;
  readonly attentionScaling: number;
  readonly half: number;
  readonly rowLen: number;
  private readonly fr: SplitFrequencies;
  private readonly blocks = new Map<number, Block>();
  private readonly budget: CacheBudget;
  private readonly blockBytes: number;
  private lastIndex = -1;
  private lastBlock: Block | undefined = undefined;
  /** Bytes this cache holds. */
  bytes = 0;
  /** Result of the last row(): the row is tab[off .. off + rowLen) (cos then sin). */
  tab: Float32Array;
  off = 0;

  constructor(invFreq: Float64Array, attentionScaling: number, budget: CacheBudget) {
    this.source = invFreq;
    this.attentionScaling = attentionScaling;
    this.half = invFreq.length;
    this.rowLen = 2 * this.half;
    this.fr = splitFrequencies(invFreq);
    this.budget = budget;
    this.blockBytes = BLOCK * this.rowLen * 4;
    this.tab = new Float32Array(0);
  }

  /** True if this cache still describes invFreq/attentionScaling (also catches in-place edits). */
  matches(invFreq: Float64Array, attentionScaling: number): boolean {
    if (invFreq !== this.source || attentionScaling !== this.attentionScaling) return false;
    const f = this.fr.f;
    for (let j = 0; j < f.length; j++) if (f[j] !== invFreq[j]) return false;
    return true;
  }

  /** Finds (or computes) the row of position p; sets tab/off. Past the cap the row is computed
   * into scratch[scratchOff ..). */
  row(p: number, scratch: Float32Array, scratchOff: number): void {
    const index = p >>> BLOCK_SHIFT;
    let block = index === this.lastIndex ? this.lastBlock : this.blocks.get(index);
    if (block === undefined) {
      if (this.budget.used + this.blockBytes > this.budget.cap) {
        fillPairs(p, this.fr, 0, this.half, this.attentionScaling, scratch, scratchOff, scratchOff + this.half);
        this.tab = scratch;
        this.off = scratchOff;
        return;
      }
      block = new Block(this.rowLen);
      this.blocks.set(index, block);
      this.budget.used += this.blockBytes;
      this.bytes += this.blockBytes;
    }
    this.lastIndex = index;
    this.lastBlock = block;
    const r = p & (BLOCK - 1);
    const off = r * this.rowLen;
    if (block.filled[r] === 0) {
      fillPairs(p, this.fr, 0, this.half, this.attentionScaling, block.rows, off, off + this.half);
      block.filled[r] = 1;
    }
    this.tab = block.rows;
    this.off = off;
  }

  /** Drops every row and returns the bytes to the budget. */
  release(): void {
    this.budget.used -= this.bytes;
    this.bytes = 0;
    this.blocks.clear();
    this.lastIndex = -1;
    this.lastBlock = undefined;
  }
}

/**
 * cos/sin in Hugging Face's layout [tokens, rotaryDim] (cos[t, j] = cos[t, j + rotaryDim/2]),
 * attentionScaling applied, for rope.cosSin(positions). The position of token t for pair j is
 * positions[pairSection[j]*rowStride + t] (row 0 without M-RoPE sections).
 */
export function cosSinTable(
  invFreq: Float64Array,
  attentionScaling: number,
  geometry: RopeGeometry,
  positions: Int32Array,
  rowStride: number,
  tokens: number,
): { cos: Float32Array; sin: Float32Array } {
  const half = geometry.rotaryDim / 2;
  const rot = geometry.rotaryDim;
  const fr = splitFrequencies(invFreq);
  const sections = geometry.pairSection;
  const cos = new Float32Array(tokens * rot);
  const sin = new Float32Array(tokens * rot);
  const row = new Float32Array(2 * half); // cos then sin of one token
  for (let t = 0; t < tokens; t++) {
    if (sections === null) {
      fillPairs(positions[t], fr, 0, half, attentionScaling, row, 0, half);
    } else {
      for (let j = 0; j < half; j++) {
        fillPairs(positions[sections[j] * rowStride + t], fr, j, j + 1, attentionScaling, row, 0, half);
      }
    }
    const o = t * rot;
    for (let j = 0; j < half; j++) {
      cos[o + j] = cos[o + half + j] = row[j];
      sin[o + j] = sin[o + half + j] = row[half + j];
    }
  }
  return { cos, sin };
}
