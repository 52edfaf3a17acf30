// One place that turns a call into a checked CallPlan. Everything is checked here, before any
// engine touches a user array, so a refused call leaves every array exactly as it was.
// Plans are filled in place (a Rope owns reusable plan objects): the hot path allocates nothing
// unless positions come as a number[] or an array is a Float16Array that must be re-viewed.
import {
  DTYPE_BF16,
  DTYPE_F16,
  DTYPE_F32,
  type CallPlan,
  type RopeGeometry,
  type TensorPlan,
} from './types.js';
import { APPLY_KEYS, APPLY_QK_KEYS, checkKnownKeys } from './options.js';
import { planCache, readCacheOptions } from './cache.js';
import { rotatedRowsOverlap, sameMemory } from './overlap.js';
import { MAX_THREADS, POSITION_LIMIT } from './limits.js';
import { checkPositions, checkPositionsApart } from './positions.js';
import { bufferOf, byteLengthOf, byteOffsetOf, describe, isDetached, lengthOf, typedArrayTag } from './typed-array.js';

export { describe };

/** CallPlan.threads for threads: 'auto' (lib/types.ts). */
export const THREADS_AUTO = 0;
const EMPTY_F32 = new Float32Array(0);

export function newTensorPlan(): TensorPlan {
  return { data: EMPTY_F32, dtype: DTYPE_F32, heads: 0, offset: 0, batchStride: 0, tokenStride: 0, headStride: 0 };
}

export function newCallPlan(invFreq: Float64Array): CallPlan {
  return {
    q: newTensorPlan(),
    k: null,
    cache: null,
    batch: 1,
    tokens: 0,
    inverse: false,
    positions: null,
    positionOffset: 0,
    positionsBatchStride: 0,
    positionsRowStride: 0,
    invFreq,
    attentionScaling: 1,
    threads: 1,
  };
}

/** Drops the plan's references to user arrays (so a Rope does not keep the last tensor alive). */
export function releasePlan(plan: CallPlan): void {
  plan.q.data = EMPTY_F32;
  if (plan.k) plan.k.data = EMPTY_F32;
  plan.cache = null;
  plan.positions = null;
}

/** A positive safe integer, or a TypeError/RangeError naming `name`. */
export function checkPositiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a positive integer, got ${describe(v)}`);
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${describe(v)}`);
  return v;
}

function optionalPositiveInt(name: string, v: unknown): number | undefined {
  return v === undefined ? undefined : checkPositiveInt(name, v);
}

const ARRAY_KINDS = 'a Float32Array (f32), a Uint16Array (f16/bf16 bits) or a Float16Array';

/** Checks the array and its dtype and sets t.data / t.dtype. */
function checkData(name: string, x: unknown, dtype: unknown, t: TensorPlan): void {
  const tag = typedArrayTag(x);
  if (tag === undefined) throw new TypeError(`${name} must be ${ARRAY_KINDS}, got ${describe(x)}`);
  const view = x as Float32Array | Uint16Array;
  // A view of a detached buffer has length 0, so only then is .buffer worth reading (its getter
  // costs ~25 ns, and this runs on every call).
  const length = lengthOf(view);
  // Length 0: a detached buffer is an error; an empty array (or a view a resizable buffer's
  // shrink left without elements) is 0 tokens, a call that rotates nothing (Rope skips the engine).
  // The same on every runtime (lib/typed-array.ts isDetached).
  if (length === 0 && isDetached(bufferOf(view), byteLengthOf(view))) {
    throw new TypeError(`${name}'s buffer is detached: nothing to rotate`);
  }
  if (dtype !== undefined && dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') {
    throw new TypeError(`dtype must be 'f32', 'f16' or 'bf16', got ${describe(dtype)}`);
  }
  if (tag === 'Float32Array') {
    if (dtype !== undefined && dtype !== 'f32') {
      throw new TypeError(`dtype '${dtype}' does not match ${name}, a Float32Array (f32); pass f16/bf16 bits as a Uint16Array`);
    }
    t.data = view;
    t.dtype = DTYPE_F32;
  } else if (tag === 'Uint16Array') {
    if (dtype === undefined) {
      throw new TypeError(`dtype is required for a Uint16Array ${name}: 'f16' or 'bf16' (its bits are not self-describing)`);
    }
    if (dtype === 'f32') throw new TypeError(`dtype 'f32' does not match ${name}, a Uint16Array (f16/bf16 bits); f32 needs a Float32Array`);
    t.data = view;
    t.dtype = dtype === 'f16' ? DTYPE_F16 : DTYPE_BF16;
  } else if (tag === 'Float16Array') {
    if (dtype !== undefined && dtype !== 'f16') {
      throw new TypeError(`dtype '${dtype}' does not match ${name}, a Float16Array (f16)`);
    }
    // The engines read f16 as bits: the same bytes, re-viewed.
    t.data = new Uint16Array(bufferOf(view), byteOffsetOf(view), length);
    t.dtype = DTYPE_F16;
  } else {
    throw new TypeError(`${name} must be ${ARRAY_KINDS}, got a ${tag}`);
  }
}

function checkLayout(v: unknown): 'shd' | 'bshd' | 'bhsd' {
  if (v === undefined) return 'shd';
  if (v !== 'shd' && v !== 'bshd' && v !== 'bhsd') throw new TypeError(`layout must be 'shd', 'bshd' or 'bhsd', got ${describe(v)}`);
  return v;
}

function perOf(batch: number, headsName: string): string {
  return batch === 1 ? `${headsName}*headDim` : `batch*${headsName}*headDim`;
}

/** Sets t's shape and strides; returns its number of tokens. stride is the tokenStride option. */
function checkShape(
  name: string,
  headsName: string,
  t: TensorPlan,
  headDim: number,
  layout: 'shd' | 'bshd' | 'bhsd',
  batch: number,
  tokens: number | undefined,
  stride: number | undefined,
  strideName: string,
): number {
  const length = lengthOf(t.data);
  const row = t.heads * headDim;
  t.offset = 0;
  t.headStride = headDim;
  if (stride === undefined) {
    const per = batch * row;
    // (message strings are built only on the error paths: this runs on every call)
    if (length % per !== 0) throw new RangeError(`${name}.length ${length} is not a multiple of ${perOf(batch, headsName)} = ${per}`);
    const n = length / per;
    if (tokens !== undefined && tokens !== n) {
      throw new RangeError(`tokens ${tokens} does not match ${name}.length ${length} = ${n} tokens of ${perOf(batch, headsName)} = ${per}`);
    }
    if (layout === 'bhsd') {
      t.headStride = n * headDim;
      t.tokenStride = headDim;
      t.batchStride = t.heads * n * headDim;
    } else {
      t.tokenStride = row;
      t.batchStride = layout === 'shd' ? 0 : n * row;
    }
    return n;
  }
  if (tokens === undefined) throw new TypeError(`${strideName} needs tokens: with a stride the array's length does not say how many tokens there are`);
  if (stride < row) {
    throw new RangeError(`${strideName} ${stride} is less than ${headsName}*headDim = ${row}: consecutive tokens' rows would overlap`);
  }
  const end = (batch * tokens - 1) * stride + row;
  if (end > length) {
    const rows = batch === 1 ? `tokens ${tokens}` : `batch*tokens ${batch * tokens}`;
    throw new RangeError(`${name}.length ${length} is too short: ${rows} at ${strideName} ${stride} with ${headsName}*headDim = ${row} end at element ${end}`);
  }
  t.tokenStride = stride;
  t.batchStride = layout === 'shd' ? 0 : tokens * stride;
  return tokens;
}

interface CommonOpts {
  positions?: unknown;
  layout?: unknown;
  batch?: unknown;
  tokens?: unknown;
  inverse?: unknown;
  seqLen?: unknown;
  threads?: unknown;
  dtype?: unknown;
  tokenStride?: unknown;
}

function checkOpts(opts: unknown, call: string, needs: string): CommonOpts {
  if (typeof opts !== 'object' || opts === null) {
    throw new TypeError(`${call} options must be an object with ${needs} and positions, got ${describe(opts)}`);
  }
  return opts as CommonOpts;
}

/** layout, batch, inverse, threads: the options shared by apply and applyQK (already read once). */
function checkCommon(plan: CallPlan, layoutOpt: unknown, batchOpt: unknown, inverse: unknown, th: unknown): 'shd' | 'bshd' | 'bhsd' {
  const layout = checkLayout(layoutOpt);
  const batch = optionalPositiveInt('batch', batchOpt) ?? 1;
  if (layout === 'shd' && batch !== 1) {
    throw new RangeError(`batch ${batch} needs layout 'bshd' or 'bhsd' (layout 'shd' is one batch row)`);
  }
  plan.batch = batch;
  if (inverse !== undefined && typeof inverse !== 'boolean') {
    throw new TypeError(`inverse must be a boolean, got ${describe(inverse)}`);
  }
  plan.inverse = inverse === true;
  if (th === undefined || th === 'auto') {
    // 'auto' is resolved where the call's size is known: 0 tells the native walk to pick (one
    // thread below a measured size, the machine's cores above; native/auto_threads.h).
    plan.threads = THREADS_AUTO;
  } else if (typeof th !== 'number') {
    throw new TypeError(`threads must be 'auto' or a positive integer, got ${describe(th)}`);
  } else if (!Number.isInteger(th) || th < 1 || th > MAX_THREADS) {
    throw new RangeError(`threads must be 'auto' or an integer in [1, ${MAX_THREADS}], got ${describe(th)}`);
  } else {
    plan.threads = th;
  }
  return layout;
}

function checkStrideOpt(name: string, v: unknown, layout: string): number | undefined {
  if (v === undefined) return undefined;
  if (layout === 'bhsd') throw new TypeError(`${name} is for layouts 'shd' and 'bshd', not 'bhsd' (its tokens are contiguous per head)`);
  return checkPositiveInt(name, v);
}

function seqLenOf(seqLen: unknown, maxPosition: number): number {
  return seqLen === undefined ? maxPosition + 1 : checkPositiveInt('seqLen', seqLen);
}

/**
 * After positions were read (a Proxy's traps are user code, which may resize or transfer a
 * tensor's buffer): the tensor still has the length it was measured with. Cold unless it changed.
 */
function checkStill(t: TensorPlan, length: number, name: string): void {
  const now = lengthOf(t.data);
  if (now === length) return;
  if (now === 0 && isDetached(bufferOf(t.data), byteLengthOf(t.data))) {
    throw new TypeError(`${name}'s buffer was detached while positions were read: nothing to rotate`);
  }
  throw new RangeError(`${name}.length changed from ${length} to ${now} while positions were read`);
}

/** Checks rope.apply(x, opts) and fills plan (plan.k = null). Returns the call's seqLen. */
export function planApply(plan: CallPlan, geometry: RopeGeometry, x: unknown, opts: unknown, keys = APPLY_KEYS): number {
  const o = checkOpts(opts, 'apply', 'heads') as CommonOpts & { heads?: unknown };
  checkKnownKeys(o, keys, keys === APPLY_KEYS ? 'apply' : 'applyAsync');
  // Every option is read once, here, before any array is measured or the plan is touched: a
  // getter (user code) then cannot change what was checked, nor re-enter into a half-filled plan.
  const dtype = o.dtype;
  const heads = o.heads;
  const layoutOpt = o.layout;
  const batch = o.batch;
  const inverse = o.inverse;
  const threads = o.threads;
  const tokensOpt = o.tokens;
  const strideOpt = o.tokenStride;
  const positions = o.positions;
  const seqLen = o.seqLen;
  const q = plan.q;
  checkData('x', x, dtype, q);
  if (heads === undefined && ((o as { qHeads?: unknown }).qHeads !== undefined || (o as { kHeads?: unknown }).kHeads !== undefined)) {
    throw new TypeError('apply takes heads (heads per token in x), not qHeads/kHeads: to rotate q and k in one call use applyQK');
  }
  q.heads = checkPositiveInt('heads', heads);
  const layout = checkCommon(plan, layoutOpt, batch, inverse, threads);
  const tokens = optionalPositiveInt('tokens', tokensOpt);
  const stride = checkStrideOpt('tokenStride', strideOpt, layout);
  plan.k = null;
  plan.cache = null;
  plan.tokens = checkShape('x', 'heads', q, geometry.headDim, layout, plan.batch, tokens, stride, 'tokenStride');
  const qLength = lengthOf(q.data);
  const max = checkPositions(plan, geometry.sectionRows, positions);
  checkStill(q, qLength, 'x');
  // (a number[] was copied into a fresh Int32Array: only a caller's Int32Array can share memory)
  const p = plan.positions;
  if (p !== null && p === positions) checkPositionsApart(p, bufferOf(p), q, 'x');
  return seqLenOf(seqLen, max);
}

// The binding (native/binding/native_rope.cc, checkQKDisjoint) throws these words too, its same-array
// message ending in " (q and k overlap)"; test/native/contracts.test.ts holds the two sides equal.
const Q_K_SAME_ARRAY = 'q and k are the same array: each row would be rotated twice';
const Q_K_OVERLAP =
  'q and k overlap: some rotated row of q shares elements with one of k (views into one fused QKV buffer must not overlap)';

/**
 * Checks rope.applyQK(q, k, opts) and fills plan with plan.k = k. Returns the call's seqLen.
 * engineChecksOverlap: the engine proves itself that no rotated row of q shares memory with one of
 * k, with these same messages (the native binding does, exactly, from addresses), so the two
 * `buffer` reads this takes (C++ getters, ~60 ns of a ~2 us decode call) are skipped. Then a call
 * with overlapping q and k and another fault reports the other fault first.
 */
export function planApplyQK(
  plan: CallPlan,
  geometry: RopeGeometry,
  k: TensorPlan,
  qArr: unknown,
  kArr: unknown,
  opts: unknown,
  engineChecksOverlap = false,
  keys = APPLY_QK_KEYS,
): number {
  const o = checkOpts(opts, 'applyQK', 'qHeads, kHeads') as CommonOpts & {
    qHeads?: unknown;
    kHeads?: unknown;
    qTokenStride?: unknown;
    kTokenStride?: unknown;
    v?: unknown;
    cache?: unknown;
  };
  checkKnownKeys(o, keys, keys === APPLY_QK_KEYS ? 'applyQK' : 'applyQKAsync');
  plan.cache = null;
  // Every option read once, first (see planApply).
  const dtype = o.dtype;
  const qHeads = o.qHeads;
  const kHeads = o.kHeads;
  const layoutOpt = o.layout;
  const batch = o.batch;
  const inverse = o.inverse;
  const threads = o.threads;
  const tokensOpt = o.tokens;
  const strideOpt = o.tokenStride;
  const qStrideOpt = o.qTokenStride;
  const kStrideOpt = o.kTokenStride;
  const positions = o.positions;
  const seqLen = o.seqLen;
  const cacheOpts = readCacheOptions(o.v, o.cache);
  const q = plan.q;
  checkData('q', qArr, dtype, q);
  checkData('k', kArr, dtype, k);
  // By memory, not object: two SharedArrayBuffer objects can be one memory (lib/overlap.ts).
  const sameBuffer = !engineChecksOverlap && sameMemory(bufferOf(q.data), bufferOf(k.data), byteOffsetOf(q.data));
  if (sameBuffer && byteOffsetOf(q.data) === byteOffsetOf(k.data)) {
    throw new RangeError(Q_K_SAME_ARRAY);
  }
  if (qHeads === undefined && kHeads === undefined && (o as { heads?: unknown }).heads !== undefined) {
    throw new TypeError('applyQK takes qHeads and kHeads (heads per token in q and in k), not heads (that is apply\'s option)');
  }
  q.heads = checkPositiveInt('qHeads', qHeads);
  k.heads = checkPositiveInt('kHeads', kHeads);
  const layout = checkCommon(plan, layoutOpt, batch, inverse, threads);
  const tokens = optionalPositiveInt('tokens', tokensOpt);
  const shared = checkStrideOpt('tokenStride', strideOpt, layout);
  const qStride = checkStrideOpt('qTokenStride', qStrideOpt, layout) ?? shared;
  const kStride = checkStrideOpt('kTokenStride', kStrideOpt, layout) ?? shared;
  const qName = qStrideOpt !== undefined ? 'qTokenStride' : 'tokenStride';
  const kName = kStrideOpt !== undefined ? 'kTokenStride' : 'tokenStride';
  const headDim = geometry.headDim;
  const qTokens = checkShape('q', 'qHeads', q, headDim, layout, plan.batch, tokens, qStride, qName);
  const kTokens = checkShape('k', 'kHeads', k, headDim, layout, plan.batch, tokens, kStride, kName);
  if (qTokens !== kTokens) {
    const n = (c: number) => `${c} token${c === 1 ? '' : 's'}`;
    throw new RangeError(`k holds ${n(kTokens)} (k.length ${lengthOf(k.data)}) but q holds ${n(qTokens)} (q.length ${lengthOf(q.data)}); they must match`);
  }
  plan.tokens = qTokens;
  plan.k = k;
  if (sameBuffer && rotatedRowsOverlap(plan.batch, plan.tokens, geometry.rotaryDim, q, k)) {
    throw new RangeError(Q_K_OVERLAP);
  }
  const qLength = lengthOf(q.data);
  const kLength = lengthOf(k.data);
  const max = checkPositions(plan, geometry.sectionRows, positions);
  checkStill(q, qLength, 'q');
  checkStill(k, kLength, 'k');
  const p = plan.positions;
  if (p !== null && p === positions) {
    const pb = bufferOf(p);
    checkPositionsApart(p, pb, q, 'q');
    checkPositionsApart(p, pb, k, 'k');
  }
  // (after positions: what it measures stays as measured until the write)
  if (cacheOpts !== undefined) planCache(plan, cacheOpts, layout, k, newTensorPlan(), dtype, headDim, kStride !== undefined, checkData);
  return seqLenOf(seqLen, max);
}

/** rope.cosSin's positions: one position (a number), or n per section row (Int32Array/number[]). */
export function planCosSin(
  geometry: RopeGeometry,
  p: unknown,
): { positions: Int32Array; count: number; maxPosition: number } {
  const rows = geometry.sectionRows;
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p >= POSITION_LIMIT) {
      throw new RangeError(`positions must be an integer in [0, 2^31), got ${describe(p)}`);
    }
    return { positions: new Int32Array(rows).fill(p), count: 1, maxPosition: p };
  }
  const tag = typedArrayTag(p);
  if (tag !== 'Int32Array' && !(tag === undefined && Array.isArray(p))) {
    throw new TypeError(`positions must be a number, an Int32Array or a number[], got ${describe(p)}`);
  }
  const n = tag !== undefined ? lengthOf(p as Int32Array) : (p as readonly unknown[]).length;
  if (n === 0 || n % rows !== 0) {
    throw new RangeError(
      rows === 1
        ? `positions.length ${n}: give at least one position`
        : `positions.length ${n} must be a positive multiple of the ${rows} M-RoPE position rows`,
    );
  }
  const plan = newCallPlan(new Float64Array(0));
  plan.tokens = n / rows;
  const maxPosition = checkPositions(plan, rows, p);
  return { positions: plan.positions!, count: plan.tokens, maxPosition };
}
