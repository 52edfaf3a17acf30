// applyQK's `v` and `cache` options: read once with the other options, checked after positions
// (whose reading may run user code) and before any write, into plan.cache (types.ts CachePlan).
// A cache is [slots, kvHeads, headDim] ('nhd') or [kvHeads, slots, headDim] ('hnd'); token t's
// rotated k and unrotated v go to slot slots[t] (-1: skipped) or slots + t (a number).
import { CACHE_KEYS, checkKnownKeys } from './options.js';
import { isSharedBuffer, rotatedRowsOverlap, sameMemory } from './overlap.js';
import { bufferOf, byteLengthOf, byteOffsetOf, describe, isDetached, lengthOf, typedArrayTag } from './typed-array.js';
import { DTYPE_BF16, DTYPE_F16, DTYPE_F32, type CachePlan, type CallPlan, type DType, type TensorPlan } from './types.js';

/** The options as read (every getter run once, before anything is measured). */
export interface CacheOptionsRead {
  v: unknown;
  k: unknown;
  cv: unknown;
  slots: unknown;
  dtype: unknown;
  layout: unknown;
}

/** Reads v and cache (undefined: no cache write). */
export function readCacheOptions(v: unknown, cache: unknown): CacheOptionsRead | undefined {
  if (cache === undefined) {
    if (v !== undefined) throw new TypeError('v is written to a KV cache: pass cache: { k, v, slots } with it (applyQK never rotates or changes v)');
    return undefined;
  }
  if (typeof cache !== 'object' || cache === null) {
    throw new TypeError(`cache must be an object { k, v, slots, dtype, layout }, got ${describe(cache)}`);
  }
  checkKnownKeys(cache, CACHE_KEYS, 'cache');
  const c = cache as Record<string, unknown>;
  return { v, k: c.k, cv: c.v, slots: c.slots, dtype: c.dtype, layout: c.layout };
}

const KINDS = 'a Float32Array (f32), a Uint16Array (f16/bf16 bits, with cache.dtype) or a Float16Array';

// A cache array and its dtype; returns the array the engines read (a Float16Array re-viewed as bits).
function cacheArray(name: string, x: unknown, dtype: unknown): { data: Float32Array | Uint16Array; dtype: DType } {
  const tag = typedArrayTag(x);
  if (dtype !== undefined && dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') {
    throw new TypeError(`cache.dtype must be 'f32', 'f16' or 'bf16', got ${describe(dtype)}`);
  }
  if (tag === 'Float32Array') {
    if (dtype !== undefined && dtype !== 'f32') throw new TypeError(`cache.dtype '${dtype}' does not match ${name}, a Float32Array (f32); pass f16/bf16 bits as a Uint16Array`);
    return { data: x as Float32Array, dtype: DTYPE_F32 };
  }
  if (tag === 'Uint16Array') {
    if (dtype === undefined) throw new TypeError(`cache.dtype is required for a Uint16Array ${name}: 'f16' or 'bf16' (its bits are not self-describing)`);
    if (dtype === 'f32') throw new TypeError(`cache.dtype 'f32' does not match ${name}, a Uint16Array (f16/bf16 bits); an f32 cache is a Float32Array`);
    return { data: x as Uint16Array, dtype: dtype === 'f16' ? DTYPE_F16 : DTYPE_BF16 };
  }
  if (tag === 'Float16Array') {
    if (dtype !== undefined && dtype !== 'f16') throw new TypeError(`cache.dtype '${dtype}' does not match ${name}, a Float16Array (f16)`);
    const a = x as ArrayBufferView;
    return { data: new Uint16Array(bufferOf(a), byteOffsetOf(a), lengthOf(a as Uint16Array)), dtype: DTYPE_F16 };
  }
  throw new TypeError(`${name} must be ${KINDS}, got ${describe(x)}`);
}

// [start, end) bytes of a view, and whether two views share a byte (by memory: lib/overlap.ts).
function viewsMeet(a: ArrayBufferView, b: ArrayBufferView, probeAt: number): boolean {
  const ao = byteOffsetOf(a), bo = byteOffsetOf(b);
  const ae = ao + byteLengthOf(a), be = bo + byteLengthOf(b);
  if (ae <= bo || be <= ao) return false;
  return sameMemory(bufferOf(a), bufferOf(b), probeAt);
}

const TOO_MANY_FOR_PAIRS = 16;

/**
 * Checks the cache write of an applyQK call whose q and k plans are filled (layout, batch,
 * tokens, strides) and whose positions were read; fills plan.cache. Throws, writing nothing.
 * The engine then sees no k (it rotates q only), so q/k overlap is tested here for every engine;
 * k and v are read whole (pass-through dims too), so against q's rotated rows they are tested
 * headDim wide. strided: k has a token stride (v is then read at it, and may be longer).
 */
export function planCache(
  plan: CallPlan,
  o: CacheOptionsRead,
  layout: string,
  k: TensorPlan,
  vPlan: TensorPlan,
  dtype: unknown,
  headDim: number,
  strided: boolean,
  checkData: (name: string, x: unknown, dtype: unknown, t: TensorPlan) => void,
): void {
  if (layout !== 'shd' || plan.batch !== 1) {
    throw new RangeError(`cache needs layout 'shd' (one batch row), got layout '${layout}'${plan.batch === 1 ? '' : ` with batch ${plan.batch}`}: call once per batch row`);
  }
  const kc = cacheArray('cache.k', o.k, o.dtype);
  let vc: { data: Float32Array | Uint16Array; dtype: DType } | null = null;
  if (o.cv !== undefined || o.v !== undefined) {
    if (o.cv === undefined) throw new TypeError('v needs cache.v: the cache array its rows are written to');
    if (o.v === undefined) throw new TypeError('cache.v needs v: the values to write (applyQK takes v next to q and k)');
    vc = cacheArray('cache.v', o.cv, o.dtype);
    if (typedArrayTag(o.cv) !== typedArrayTag(o.k)) throw new TypeError(`cache.v must be the same kind of array as cache.k (${typedArrayTag(o.k)}), got ${describe(o.cv)}`);
  }
  const tokens = plan.tokens;
  // v: k's shape and strides.
  let v: TensorPlan | null = null;
  if (vc !== null) {
    checkData('v', o.v, dtype, vPlan); // (q, k and v share the dtype option: v holds k's dtype)
    vPlan.heads = k.heads;
    vPlan.offset = 0;
    vPlan.headStride = k.headStride;
    vPlan.tokenStride = k.tokenStride;
    vPlan.batchStride = 0;
    const need = tokens === 0 ? 0 : (tokens - 1) * k.tokenStride + k.heads * headDim;
    const vLen = lengthOf(vPlan.data);
    const kLen = lengthOf(k.data);
    if (strided ? vLen < need : vLen !== kLen) {
      throw new RangeError(`v.length ${vLen} does not match k: v holds the same ${tokens} token${tokens === 1 ? '' : 's'} of kHeads*headDim = ${k.heads * headDim} as k${strided ? `, at k's token stride ${k.tokenStride} (${need} elements)` : ` (k.length ${kLen})`}`);
    }
    v = vPlan;
  }
  // The cache arrays: whole rows of kvHeads*headDim per slot, both arrays alike.
  const row = k.heads * headDim;
  const kLen = lengthOf(kc.data);
  if (kLen === 0 && isDetached(bufferOf(kc.data), byteLengthOf(kc.data))) throw new TypeError("cache.k's buffer is detached");
  if (kLen === 0 || kLen % row !== 0) throw new RangeError(`cache.k.length ${kLen} is not a positive multiple of kHeads*headDim = ${row} (a cache is [slots, kHeads, headDim] or [kHeads, slots, headDim])`);
  const slotCount = kLen / row;
  if (vc !== null) {
    const vLen = lengthOf(vc.data);
    if (vLen === 0 && isDetached(bufferOf(vc.data), byteLengthOf(vc.data))) throw new TypeError("cache.v's buffer is detached");
    if (vLen !== kLen) throw new RangeError(`cache.v.length ${vLen} differs from cache.k.length ${kLen}: both hold ${slotCount} slots of kHeads*headDim = ${row}`);
  }
  const cl = o.layout;
  if (cl !== undefined && cl !== 'nhd' && cl !== 'hnd') throw new TypeError(`cache.layout must be 'nhd' ([slots, kvHeads, headDim]) or 'hnd' ([kvHeads, slots, headDim]), got ${describe(cl)}`);
  const hnd = cl === 'hnd';
  // slots
  const s = o.slots;
  let slots: Int32Array | null = null;
  let slotStart = 0;
  let firstSlot = -1;
  if (typeof s === 'number') {
    if (!Number.isSafeInteger(s) || s < 0) throw new RangeError(`cache.slots as a number is the first slot of the tokens' run: an integer >= 0, got ${describe(s)}`);
    if (s + tokens > slotCount) throw new RangeError(`cache.slots ${s}: tokens ${tokens} need slots ${s}..${s + tokens - 1}, but the cache holds ${slotCount} slots (0..${slotCount - 1})`);
    slotStart = s;
    if (tokens > 0) firstSlot = s;
  } else if (typedArrayTag(s) === 'Int32Array') {
    const n = lengthOf(s as Int32Array);
    if (n !== tokens) throw new RangeError(`cache.slots.length ${n} does not match the call's ${tokens} token${tokens === 1 ? '' : 's'}: one slot per token (-1 skips it)`);
    // A copy: the cache write reads it after q was rotated (and the arrays may share memory).
    slots = new Int32Array(n);
    for (let t = 0; t < n; t++) {
      const x = (s as Int32Array)[t];
      if (x < -1 || x >= slotCount) throw new RangeError(`cache.slots[${t}] is ${x}: a slot in [0, ${slotCount}) (the cache's slots), or -1 to skip the token`);
      slots[t] = x;
      if (firstSlot < 0) firstSlot = x;
    }
    checkDuplicates(slots);
  } else {
    throw new TypeError(`cache.slots must be an Int32Array (one slot per token, -1 skips it) or a number (the first slot of a contiguous run), got ${describe(s)}`);
  }
  // Memory: the cache arrays are written, q's rotated rows are written; k and v only read.
  if (firstSlot >= 0) {
    const esize = kc.dtype === DTYPE_F32 ? 4 : 2;
    const probe = (c: Float32Array | Uint16Array): number => byteOffsetOf(c) + (hnd ? firstSlot * headDim : firstSlot * row) * esize;
    const arrays: [string, ArrayBufferView][] = [['q', plan.q.data], ['k', k.data]];
    if (v !== null) arrays.push(['v', v.data]);
    if (plan.positions !== null) arrays.push(['positions', plan.positions]);
    for (const [cn, c] of vc === null ? [['cache.k', kc.data] as const] : ([['cache.k', kc.data], ['cache.v', vc.data]] as const)) {
      for (const [n, a] of arrays) {
        if (viewsMeet(c, a, probe(c))) throw new RangeError(`${cn} shares memory with ${n}: the cache must be separate from q, k, v and positions`);
      }
    }
    if (vc !== null && viewsMeet(kc.data, vc.data, probe(kc.data))) throw new RangeError('cache.k and cache.v share memory: they must be separate arrays');
  }
  if (tokens > 0) {
    const qBuf = bufferOf(plan.q.data);
    for (const [n, t] of v === null ? [['k', k] as const] : ([['k', k], ['v', v]] as const)) {
      const buf = bufferOf(t.data);
      if ((qBuf === buf || (isSharedBuffer(qBuf) && sameMemory(qBuf, buf, byteOffsetOf(plan.q.data)))) && rotatedRowsOverlap(1, tokens, headDim, plan.q, t)) {
        throw new RangeError(`q and ${n} overlap: with cache, ${n}'s rows (all headDim elements) are read while q's are rotated in place (views into one fused QKV buffer must not overlap)`);
      }
    }
  }
  const c: CachePlan = {
    v,
    kData: kc.data,
    vData: vc === null ? null : vc.data,
    dtype: kc.dtype,
    slotStride: hnd ? headDim : row,
    headStride: hnd ? slotCount * headDim : headDim,
    slots,
    slotsAt: 0,
    slotStart,
  };
  plan.cache = c;
}

// Two tokens to one slot would leave which one the cache holds to the walk's order.
function checkDuplicates(slots: Int32Array): void {
  const n = slots.length;
  if (n <= TOO_MANY_FOR_PAIRS) {
    for (let i = 0; i < n; i++) {
      if (slots[i] < 0) continue;
      for (let j = i + 1; j < n; j++) if (slots[j] === slots[i]) throw duplicate(slots, i, j);
    }
    return;
  }
  const sorted = slots.slice().sort();
  for (let i = 1; i < n; i++) {
    if (sorted[i] >= 0 && sorted[i] === sorted[i - 1]) {
      const i0 = slots.indexOf(sorted[i]);
      throw duplicate(slots, i0, slots.indexOf(sorted[i], i0 + 1));
    }
  }
}

function duplicate(slots: Int32Array, i: number, j: number): RangeError {
  return new RangeError(`cache.slots[${i}] and cache.slots[${j}] are both ${slots[i]}: each slot takes at most one token`);
}
