// Do q's and k's rotated rows share an element? Both are views of one buffer (the caller checked),
// with the same element size. A rotated row is the first rotaryDim elements of one head, at
// base + b*batchStride + t*tokenStride + h*headStride. Three exact tiers, cheapest first:
// disjoint extents; the fused-QKV case (equal token rows, per-token blocks no longer than the
// stride) by modular arithmetic in O(1); otherwise sort all row starts and sweep.
import { DTYPE_F32, type TensorPlan } from './types.js';
import { byteOffsetOf } from './typed-array.js';

function lastRowStart(t: TensorPlan, batch: number, tokens: number): number {
  return (batch - 1) * t.batchStride + (tokens - 1) * t.tokenStride + (t.heads - 1) * t.headStride;
}

function base(t: TensorPlan): number {
  return byteOffsetOf(t.data) / (t.dtype === DTYPE_F32 ? 4 : 2);
}

/** Rows of q at h*hs (h < qHeads) and of k at shift + g*hs (g < kHeads), all rotaryDim wide. */
function headRowsMeet(shift: number, hs: number, qHeads: number, kHeads: number, width: number): boolean {
  // Rows meet iff |e*hs - shift| < width for some e = h - g in [-(kHeads-1), qHeads-1]; width <= hs
  // leaves at most two candidates around shift/hs (checked with a margin, exactly).
  const e0 = Math.floor(shift / hs);
  for (let e = e0 - 1; e <= e0 + 2; e++) {
    if (e < -(kHeads - 1) || e > qHeads - 1) continue;
    if (Math.abs(e * hs - shift) < width) return true;
  }
  return false;
}

function sortedRowStarts(t: TensorPlan, batch: number, tokens: number): Float64Array {
  const out = new Float64Array(batch * tokens * t.heads);
  const b0 = base(t);
  let i = 0;
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < tokens; s++) {
      const row = b0 + b * t.batchStride + s * t.tokenStride;
      for (let h = 0; h < t.heads; h++) out[i++] = row + h * t.headStride;
    }
  }
  return out.sort();
}

export function rotatedRowsOverlap(batch: number, tokens: number, width: number, q: TensorPlan, k: TensorPlan): boolean {
  const qBase = base(q);
  const kBase = base(k);
  const qEnd = qBase + lastRowStart(q, batch, tokens) + width;
  const kEnd = kBase + lastRowStart(k, batch, tokens) + width;
  if (qEnd <= kBase || kEnd <= qBase) return false;

  // Fused QKV: both walk the same rows (stride S, N = batch*tokens of them, batches back to back),
  // and each token's heads fit inside one stride. Then k's block for token m meets q's block for
  // token n only through the shift delta + (m-n)*S, and at most two such shifts touch [0, qLen).
  const S = q.tokenStride;
  const hs = q.headStride;
  const rowsChain = batch === 1 || (q.batchStride === tokens * S && k.batchStride === tokens * S);
  const qLen = (q.heads - 1) * hs + width;
  const kLen = (k.heads - 1) * hs + width;
  if (k.tokenStride === S && k.headStride === hs && rowsChain && width <= hs && qLen <= S && kLen <= S) {
    const n = batch * tokens;
    const delta = kBase - qBase;
    const dLo = Math.max(-(n - 1), Math.floor((-kLen - delta) / S));
    const dHi = Math.min(n - 1, Math.ceil((qLen - delta) / S));
    for (let d = dLo; d <= dHi; d++) {
      const shift = delta + d * S;
      if (shift >= qLen || shift + kLen <= 0) continue;
      if (headRowsMeet(shift, hs, q.heads, k.heads, width)) return true;
    }
    return false;
  }

  // General case (e.g. different strides): every row, sorted, swept. Rows of equal width meet iff
  // their starts differ by less than the width.
  const qs = sortedRowStarts(q, batch, tokens);
  const ks = sortedRowStarts(k, batch, tokens);
  let i = 0;
  let j = 0;
  while (i < qs.length && j < ks.length) {
    const a = qs[i];
    const c = ks[j];
    if (Math.abs(a - c) < width) return true;
    if (a < c) i++;
    else j++;
  }
  return false;
}
