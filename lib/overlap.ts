// Do q's and k's rotated rows share an element? Both are views of one memory (the caller checked),
// with the same element size. A rotated row is the first rotaryDim elements of one head, at
// base + b*batchStride + t*tokenStride + h*headStride. Three exact tiers, cheapest first:
// disjoint extents; the fused-QKV case (equal token rows, per-token blocks no longer than the
// stride) by modular arithmetic in O(1); otherwise sort all row starts and sweep.
import { DTYPE_F32, type TensorPlan } from './types.js';
import { byteOffsetOf } from './typed-array.js';

// ArrayBuffer.prototype.byteLength's intrinsic getter: succeeds on an ArrayBuffer (any realm),
// throws on a SharedArrayBuffer. Never fooled by prototypes or Symbol.toStringTag.
const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;

/** Whether buf is SharedArrayBuffer memory (then other objects may share it; a try that only
 * throws for shared memory, so plain ArrayBuffers pay one getter call). */
export function isSharedBuffer(buf: ArrayBufferLike): boolean {
  try {
    arrayBufferByteLength.call(buf);
    return false;
  } catch {
    return true;
  }
}

/**
 * Whether two buffers are one memory, judged by memory, not by object. Different ArrayBuffer
 * objects never share memory. Two SharedArrayBuffer objects do when one was cloned or posted from
 * the other, or both came from one shared wasm memory: JS sees no address, but such objects always
 * start at the same address (no JS operation makes a SAB view of the middle of another), so byte i
 * of one is byte i of the other. Probed at byte `at` (one of the call's rotated bytes, which the
 * call is about to write anyway): flipped with Atomics in `a`, looked for in `b`, restored with a
 * compare-exchange. Undetectable: only a writer on another thread racing this exact byte during
 * the probe (then answered "not shared"); docs/guide/async.md.
 */
export function sameMemory(a: ArrayBufferLike, b: ArrayBufferLike, at: number): boolean {
  if (a === b) return true;
  if (!isSharedBuffer(a) || !isSharedBuffer(b)) return false;
  const n = Math.min(a.byteLength, b.byteLength);
  if (n === 0) return false;
  const i = Math.min(Math.max(0, at), n - 1);
  const va = new Uint8Array(a);
  const vb = new Uint8Array(b);
  for (let attempt = 0; attempt < 3; attempt++) {
    const old = Atomics.load(va, i);
    if (Atomics.load(vb, i) !== old) return false; // different bytes: different memory
    const mark = old ^ 0xff;
    if (Atomics.compareExchange(va, i, old, mark) !== old) continue; // a writer raced us: again
    const seen = Atomics.load(vb, i);
    Atomics.compareExchange(va, i, mark, old);
    return seen === mark;
  }
  return false;
}

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
