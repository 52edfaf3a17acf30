// positions: a start offset, or one position per token (per M-RoPE section row), checked and
// stored into the plan. Split from validate.ts, which calls it once per call.
import { POSITION_LIMIT } from './limits.js';
import { isSharedBuffer } from './overlap.js';
import type { CallPlan, TensorPlan } from './types.js';
import { bufferOf, byteLengthOf, byteOffsetOf, describe, isDetached, lengthOf, typedArrayTag } from './typed-array.js';

/** Positions are int32 everywhere (plan, native ABI): [0, 2^31). */

/** A user Int32Array of positions must not share bytes with a tensor being rotated. */
export function checkPositionsApart(positions: Int32Array, buffer: ArrayBufferLike, t: TensorPlan, name: string): void {
  if (buffer !== bufferOf(t.data)) return;
  const a = byteOffsetOf(positions);
  const b = byteOffsetOf(t.data);
  if (a < b + byteLengthOf(t.data) && b < a + byteLengthOf(positions)) {
    throw new RangeError(`positions shares memory with ${name}: rotating ${name} would rewrite the positions mid-call`);
  }
}

/** Fills plan.positions*; returns the largest position of the call. */
export function checkPositions(plan: CallPlan, rows: number, p: unknown): number {
  const tokens = plan.tokens;
  const batch = plan.batch;
  plan.positionOffset = 0;
  plan.positionsBatchStride = 0;
  plan.positionsRowStride = 0;
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p >= POSITION_LIMIT) {
      throw new RangeError(`positions (a start offset) must be an integer in [0, 2^31), got ${describe(p)}`);
    }
    const last = p + tokens - 1;
    if (last >= POSITION_LIMIT) {
      throw new RangeError(`positions ${p} + tokens ${tokens} - 1 = ${last} is past the largest position 2^31-1`);
    }
    plan.positions = null;
    plan.positionOffset = p;
    return last;
  }
  if (p === undefined) {
    throw new TypeError('positions is required: a start offset (number) or one position per token (Int32Array or number[])');
  }
  const tag = typedArrayTag(p);
  const isArray = tag === undefined && Array.isArray(p);
  if (tag !== 'Int32Array' && !isArray) {
    throw new TypeError(`positions must be a number (start offset), an Int32Array or a number[], got ${describe(p)}`);
  }
  const src = p as Int32Array | readonly unknown[];
  if (tag !== undefined && isDetached(bufferOf(src as Int32Array), byteLengthOf(src as Int32Array))) {
    throw new TypeError("positions' buffer is detached");
  }
  const n = tag !== undefined ? lengthOf(src as Int32Array) : src.length;
  if (n === rows * tokens) {
    plan.positionsRowStride = tokens;
  } else if (n === rows * batch * tokens) {
    plan.positionsRowStride = batch * tokens;
    plan.positionsBatchStride = tokens;
  } else {
    const sec = rows === 1 ? '' : `${rows} sections * `;
    const want = batch === 1 ? `${sec}tokens = ${rows * tokens}` : `${sec}tokens = ${rows * tokens} or ${sec}batch*tokens = ${rows * batch * tokens}`;
    throw new RangeError(`positions.length ${n} must be ${want}`);
  }
  let max = 0;
  if (tag !== undefined) {
    let a = src as Int32Array;
    // SharedArrayBuffer positions are copied first, then the copy is checked and used: another
    // object over the same memory (a cloned or twice-posted SAB, shared wasm memory) may be the
    // tensor being rotated, which no object comparison can see, or another thread may rewrite
    // them mid-call. A plain ArrayBuffer can only alias through the same object
    // (checkPositionsApart).
    if (isSharedBuffer(bufferOf(a))) {
      const copy = new Int32Array(n); // (not slice(): its species constructor is user code)
      for (let i = 0; i < n; i++) copy[i] = a[i];
      a = copy;
    }
    for (let i = 0; i < n; i++) {
      const v = a[i];
      if (v < 0) throw new RangeError(`positions[${i}] = ${v} is negative: positions are in [0, 2^31)`);
      if (v > max) max = v;
    }
    plan.positions = a;
  } else {
    const a = src as readonly unknown[];
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = a[i];
      if (typeof v !== 'number') throw new TypeError(`positions[${i}] must be a number, got ${describe(v)}`);
      if (!Number.isInteger(v) || v < 0 || v >= POSITION_LIMIT) {
        throw new RangeError(`positions[${i}] = ${describe(v)} is not an integer in [0, 2^31)`);
      }
      out[i] = v;
      if (v > max) max = v;
    }
    plan.positions = out;
  }
  return max;
}
