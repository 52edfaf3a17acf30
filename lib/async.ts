// applyAsync / applyQKAsync past the inline size: the call's work in slices of tokens (and batch
// rows), each slice an ordinary sync engine call on a sub-range of the checked plan, with a turn of
// the event loop between slices. A rotation reads and writes each byte once, so copying memory
// that JS may move (an ArrayBuffer) to rotate it elsewhere costs more than rotating it in place;
// slicing rotates it in place, on the JS thread, and keeps every pause of the loop to one slice.
// SharedArrayBuffer memory on the native engine is rotated off the JS thread (native/binding/async.h)
// when the walk can leave a core to the event loop (offThreadThreads); with a signal, in slices
// there too, so that an abort stops between two of them. When it cannot (2 cores), from both ends
// at once: lib/async-split.ts.
//
// Between slices user code runs: before each slice every array is measured again (intrinsic
// getters) and a detached, transferred or shrunk buffer ends the call with an error that says
// exactly which tokens were rotated. positions were copied when the call was made.
import { isSharedBuffer } from './overlap.js';
import { bufferOf, byteLengthOf, byteOffsetOf, describe, isDetached, lengthOf } from './typed-array.js';
import { DTYPE_F32, type CallPlan, type TensorPlan } from './types.js';

/** What the slicer needs of an engine. */
export interface SliceEngine {
  apply(plan: CallPlan): void;
  applyAsync?(plan: CallPlan): Promise<void>;
  /** wasm: arrays in the module's own memory (wasmArray) lose their buffer when that memory
   * grows, which one of the call's own slices may do. ownsMemory: data is such an array;
   * rebind: the same bytes in the memory as it is now, or null while data's buffer is current. */
  ownsMemory?(data: Float32Array | Uint16Array): boolean;
  rebind?(data: Float32Array | Uint16Array, byteOffset: number, length: number): Float32Array | Uint16Array | null;
}

/** AbortSignal as read from the options (validated by readSignal). */
export interface SignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

/** The `signal` option: undefined, or an AbortSignal (anything with a boolean `aborted`, as Node's
 * own APIs accept). */
export function readSignal(v: unknown): SignalLike | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || typeof (v as { aborted?: unknown }).aborted !== 'boolean') {
    throw new TypeError(`signal must be an AbortSignal, got ${describe(v)}`);
  }
  return v as SignalLike;
}

/** The AbortError Node's own promise APIs reject with: a DOMException named 'AbortError' whose
 * cause is the signal's reason. */
export function abortError(message: string, signal: SignalLike): Error {
  const e = new DOMException(message, 'AbortError') as DOMException & { cause?: unknown };
  Object.defineProperty(e, 'cause', { value: signal.reason, writable: true, configurable: true });
  return e as unknown as Error;
}

export function abortedBefore(call: string, signal: SignalLike): Error {
  return abortError(`${call} was aborted before it started: nothing was rotated`, signal);
}

// ---- how much one slice does ----------------------------------------------------------------

/** One slice's work on the JS thread, in ms: a callback that comes due waits at most about this
 * plus one turn of the loop. (Measured at S4 on 2 cores, 0.6-1.2 ms slices: the same total time
 * within the noise; a 1 ms timer then runs after every slice, its longest gap ~1.2-1.4 ms.) */
const SLICE_MS = 1;
/** Off the JS thread (SharedArrayBuffer, native, with a signal): only an abort waits for a slice's
 * end, and each slice costs a hop through the libuv pool (~20-50 us). */
const OFF_THREAD_SLICE_MS = 4;

// Bytes of rotated rows (q + k) per ms, per engine and element size: the first slices of a call
// use what the last call measured; a new engine starts low and learns.
const START_RATE: Record<string, number> = { native: 2e6, wasm: 1e6, js: 4e5 };
const rates = new Map<string, number>();

// ---- SharedArrayBuffer memory off the JS thread ---------------------------------------------

let coresOverride = 0;
/** Tests: the core count async calls assume (0: the machine's). */
export function setAsyncCores(n: number): void {
  coresOverride = n > 0 ? Math.floor(n) : 0;
}
/** The core count async calls plan for: the machine's, or the tests' override. */
export function asyncCores(cores: number): number {
  return coresOverride > 0 ? coresOverride : cores;
}

const MIB = 1 << 20;
/**
 * The threads a walk off the JS thread may use so that one core stays with the event loop, or 0
 * when that would cost too much (then the call runs in slices on the JS thread, the pool helping
 * within each slice). A walk on every core leaves the event loop waiting for the scheduler: on 2
 * cores at S4 its longest gap was 3.4-5 ms where slices keep it under 2 ms; one core fewer must
 * keep at least 2/3 of the threads (on 2 cores, one thread takes ~1.75x as long as two at S4).
 * requested: the call's threads (0 = 'auto': native/auto_threads.h's rule, one thread below 2 MiB
 * of rows and about one per MiB above, up to 16 and the cores).
 */
export function offThreadThreads(requested: number, bytes: number, cores: number): number {
  const c = asyncCores(cores);
  const want = requested > 0 ? Math.min(requested, 64) : bytes < 2 * MIB ? 1 : Math.min(Math.floor(bytes / MIB), 16, c);
  if (want < c) return want;
  return 3 * (c - 1) >= 2 * want && c > 1 ? c - 1 : 0;
}

/**
 * The rate (bytes per ms) after a slice of `bytes` took `ms`. At most 2x up or down per slice: one
 * slice is no proof, and a slice that stalls (this thread preempted: ~5 ms on a busy 2-core
 * machine) then costs the next slices half their size, not four fifths. A slice too short to time
 * (under 20 us) proves only bytes / 0.02 ms: the rate grows to that at most, so slices sized from
 * the rate still double, and thousands of small fixed ones cannot drive it to Infinity.
 */
export function nextRate(rate: number, bytes: number, ms: number): number {
  const seen = ms > 0.02 ? bytes / ms : Math.max(rate, bytes / 0.02);
  return Math.max(rate / 2, Math.min(seen, 2 * rate));
}

let fixedSliceTokens = 0;
/** Tests: every slice has this many tokens (batch row units), 0 = sized by measurement. */
export function setAsyncSliceTokens(n: number): void {
  fixedSliceTokens = n > 0 ? Math.floor(n) : 0;
}
/** The tests' fixed slice size in tokens, or 0. */
export const fixedSliceUnits = (): number => fixedSliceTokens;

// ---- the event loop's turn ------------------------------------------------------------------

// setImmediate runs after pending I/O and timers (a microtask would not let them run); where
// there is none (browsers) a MessageChannel message, which is not clamped like setTimeout.
export const yieldToLoop: () => Promise<void> = (() => {
  if (typeof setImmediate === 'function') return () => new Promise<void>((r) => setImmediate(r));
  const MC = (globalThis as unknown as { MessageChannel?: new () => { port1: { onmessage: unknown }; port2: { postMessage(v: unknown): void } } }).MessageChannel;
  if (typeof MC === 'function') {
    const ch = new MC();
    const waiting: (() => void)[] = [];
    ch.port1.onmessage = () => waiting.shift()?.();
    return () =>
      new Promise<void>((r) => {
        waiting.push(r);
        ch.port2.postMessage(0);
      });
  }
  return () => new Promise<void>((r) => setTimeout(r, 0));
})();

// ---- the call's own plan --------------------------------------------------------------------

function copyTensor(t: TensorPlan): TensorPlan {
  return { data: t.data, dtype: t.dtype, heads: t.heads, offset: t.offset, batchStride: t.batchStride, tokenStride: t.tokenStride, headStride: t.headStride };
}

const typedSet = Object.getPrototypeOf(Uint8Array.prototype).set as (this: ArrayLike<number>, src: ArrayLike<number>, at?: number) => void;

// What a slice needs of applyQK's KV-cache write (types.ts CachePlan): token t of the call (batch
// 1) goes to slot slots[slotsAt + t], or slotStart + t; v is read like k.
interface SliceCache {
  v: TensorPlan | null;
  kData: Float32Array | Uint16Array;
  vData: Float32Array | Uint16Array | null;
  slots: Int32Array | null;
  slotsAt: number;
  slotStart: number;
}
type SlicePlan = CallPlan & { cache?: SliceCache | null };

const copyInts = (a: Int32Array): Int32Array => {
  const c = new Int32Array(lengthOf(a)); // (not slice(): its species constructor is user code)
  typedSet.call(c, a);
  return c;
};

/** A plan of the call's own (the Rope reuses its plan for the next call), positions and cache
 * slots copied: user code running between slices can then change none of them. */
export function ownPlan(plan: CallPlan): CallPlan {
  const own: SlicePlan = { ...plan, q: copyTensor(plan.q), k: plan.k === null ? null : copyTensor(plan.k) };
  if (plan.positions !== null) own.positions = copyInts(plan.positions);
  const cache = (plan as SlicePlan).cache;
  if (cache) own.cache = { ...cache, v: cache.v === null ? null : copyTensor(cache.v), slots: cache.slots === null ? null : copyInts(cache.slots) };
  return own;
}

/** Whether every tensor of plan lies in SharedArrayBuffer memory (which no JS can move). */
export function allShared(plan: CallPlan): boolean {
  return isSharedBuffer(bufferOf(plan.q.data)) && (plan.k === null || isSharedBuffer(bufferOf(plan.k.data)));
}

// ---- which tokens were rotated --------------------------------------------------------------

const range = (a: number, b: number, what: string): string => (a === b ? `${what} ${a}` : `${what}s ${a}-${b}`);

/**
 * The call's progress in words, exact: rows are done in (batch row, token) order, so `done` units
 * (batch row floor(done / tokens), token done % tokens) say which tokens hold rotated rows.
 */
export function progressText(done: number, batch: number, tokens: number): string {
  const all = `all ${tokens} token${tokens === 1 ? '' : 's'}`;
  if (batch === 1) {
    if (done === 0) return `before any token was rotated: ${all} are unchanged`;
    return `after ${range(0, done - 1, 'token')} of ${tokens} were rotated; ${range(done, tokens - 1, 'token')} are unchanged`;
  }
  const shape = `(${batch} batch rows of ${tokens} token${tokens === 1 ? '' : 's'})`;
  if (done === 0) return `before any token was rotated: every batch row is unchanged ${shape}`;
  const b = Math.floor(done / tokens);
  const t = done % tokens;
  const rotated: string[] = [];
  const unchanged: string[] = [];
  if (b > 0) rotated.push(`${range(0, b - 1, 'batch row')} (${all})`);
  if (t > 0) {
    rotated.push(`${range(0, t - 1, 'token')} of batch row ${b}`);
    unchanged.push(`${range(t, tokens - 1, 'token')} of batch row ${b}`);
  }
  const firstWhole = t > 0 ? b + 1 : b;
  if (firstWhole < batch) unchanged.push(`${range(firstWhole, batch - 1, 'batch row')} (${all})`);
  return `after ${rotated.join(' and ')} were rotated; ${unchanged.join(' and ')} are unchanged ${shape}`;
}

// ---- the slicer -----------------------------------------------------------------------------

// Elements a tensor's rows reach (the end validate.ts checked the array's length against).
function endOf(t: TensorPlan, batch: number, tokens: number, headDim: number): number {
  return t.offset + (batch - 1) * t.batchStride + (tokens - 1) * t.tokenStride + (t.heads - 1) * t.headStride + headDim;
}

interface Watched {
  t: TensorPlan;
  name: string;
  end: number;
  // wasm: where the array sits in the module's memory, when it does
  home: { byteOffset: number; length: number } | null;
}

export interface SliceCall {
  /** 'applyAsync' | 'applyQKAsync' (for messages). */
  call: string;
  engineName: string;
  headDim: number;
  rotaryDim: number;
  signal: SignalLike | undefined;
  /** Slices go to engine.applyAsync (SharedArrayBuffer memory, native engine). */
  offThread: boolean;
}

/**
 * Runs plan (the call's own: ownPlan) in slices. The first slice runs before this returns; the
 * rest after turns of the event loop. Rejects with an AbortError, or a TypeError/RangeError for a
 * buffer detached or shrunk between slices, saying which tokens were rotated.
 */
export function runSliced(engine: SliceEngine, plan: CallPlan, c: SliceCall): Promise<void> {
  const { batch, tokens } = plan;
  const total = batch * tokens;
  const elem = plan.q.dtype === DTYPE_F32 ? 4 : 2;
  const unitBytes = (plan.q.heads + (plan.k === null ? 0 : plan.k.heads)) * c.rotaryDim * elem;
  const rateKey = `${c.engineName}/${elem}/${c.offThread ? 'off' : 'on'}`;
  const target = c.offThread ? OFF_THREAD_SLICE_MS : SLICE_MS;
  const watched: Watched[] = [];
  const names = plan.k === null ? ['x'] : ['q', 'k'];
  for (const [i, t] of [plan.q, plan.k].entries()) {
    if (t === null) continue;
    const home = engine.ownsMemory?.(t.data) ? { byteOffset: byteOffsetOf(t.data), length: lengthOf(t.data) } : null;
    watched.push({ t, name: names[i], end: endOf(t, batch, tokens, c.headDim), home });
  }
  // A KV-cache write: v is read like k; the cache arrays must keep the length they were checked at.
  const cache = (plan as SlicePlan).cache ?? null;
  if (cache !== null) {
    if (cache.v !== null) watched.push({ t: cache.v, name: 'v', end: endOf(cache.v, batch, tokens, c.headDim), home: null });
    const whole = (data: Float32Array | Uint16Array): TensorPlan => ({ ...copyTensor(plan.q), data });
    watched.push({ t: whole(cache.kData), name: 'cache.k', end: lengthOf(cache.kData), home: null });
    if (cache.vData !== null) watched.push({ t: whole(cache.vData), name: 'cache.v', end: lengthOf(cache.vData), home: null });
  }
  // One reused sub-plan: a slice's rows are the call's rows [b0, b0 + nb) x [t0, t0 + n).
  const sub: SlicePlan = ownPlan({ ...plan, positions: null });
  const subQ = sub.q;
  const subK = sub.k;
  const subCache = sub.cache ?? null;
  const positions = plan.positions;

  // What happened so far, for every message: units done in (batch row, token) order.
  let done = 0;

  // The arrays as they are now; an Error when one no longer holds the call's rows.
  const recheck = (): Error | null => {
    for (const w of watched) {
      const d = w.t.data;
      if (w.home !== null) {
        // the wasm module's memory grew (a slice's cos/sin rows): the same bytes, viewed again
        const v = engine.rebind!(d, w.home.byteOffset, w.home.length);
        if (v !== null) w.t.data = v;
      }
      const n = lengthOf(w.t.data);
      if (n >= w.end) continue;
      if (n === 0 && isDetached(bufferOf(w.t.data), byteLengthOf(w.t.data))) {
        return new TypeError(`${w.name}'s buffer was detached (transferred) while ${c.call} ran, ${progressText(done, batch, tokens)}. Keep the buffer until the promise settles, or use a SharedArrayBuffer-backed array`);
      }
      return new RangeError(`${w.name}'s buffer shrank while ${c.call} ran (${w.name} now has ${n} elements, its rows need ${w.end}), ${progressText(done, batch, tokens)}`);
    }
    return null;
  };

  // Points sub at units [done, done + want) (clipped to one batch row, or whole rows).
  const aim = (want: number): number => {
    const b0 = Math.floor(done / tokens);
    const t0 = done % tokens;
    let nb = 1;
    let n: number;
    if (t0 === 0 && want >= tokens) {
      nb = Math.min(batch - b0, Math.floor(want / tokens));
      n = tokens;
    } else {
      n = Math.min(tokens - t0, want);
    }
    sub.batch = nb;
    sub.tokens = n;
    for (const [s, t] of [[subQ, plan.q], [subK, plan.k], [subCache?.v ?? null, cache?.v ?? null]] as const) {
      if (s === null || t === null) continue;
      s.data = t.data;
      s.offset = t.offset + b0 * t.batchStride + t0 * t.tokenStride;
    }
    if (subCache !== null && cache !== null) {
      // (a cache write is batch 1: token t0 of the call is token 0 of the slice)
      subCache.slots = cache.slots;
      subCache.slotsAt = cache.slotsAt + t0;
      subCache.slotStart = cache.slotStart + t0;
    }
    if (positions === null) {
      sub.positionOffset = plan.positionOffset + t0;
    } else {
      const at = b0 * plan.positionsBatchStride + t0;
      sub.positions = new Int32Array(positions.buffer, at * 4, positions.length - at);
    }
    return nb * n;
  };

  const sliceUnits = (): number => {
    if (fixedSliceTokens > 0) return fixedSliceTokens;
    const rate = rates.get(rateKey) ?? START_RATE[c.engineName] ?? START_RATE.js;
    const want = Math.max(1, Math.floor((rate * target) / unitBytes));
    // A last slice of a few tokens would cost a turn of the loop for nearly nothing.
    return total - done - want < want / 4 ? total - done : want;
  };
  const learn = (units: number, ms: number): void => {
    const rate = rates.get(rateKey) ?? START_RATE[c.engineName] ?? START_RATE.js;
    rates.set(rateKey, nextRate(rate, units * unitBytes, ms));
  };

  const signal = c.signal;
  const aborted = (): Error => abortError(`${c.call} was aborted ${progressText(done, batch, tokens)}`, signal!);

  // One slice; an Error to reject with, or null.
  const step = (): Error | null => {
    const bad = recheck();
    if (bad !== null) return bad;
    const units = aim(sliceUnits());
    const t0 = performance.now();
    try {
      engine.apply(sub);
    } catch (e) {
      // The engines check before writing: this slice wrote nothing.
      if (e instanceof Error) e.message += ` (${c.call} stopped ${progressText(done, batch, tokens)})`;
      return e as Error;
    } finally {
      releaseSub();
    }
    learn(units, performance.now() - t0);
    done += units;
    return null;
  };
  const releaseSub = (): void => {
    subQ.data = plan.q.data;
    if (subK !== null) subK.data = plan.k!.data;
    sub.positions = null;
  };

  if (c.offThread) {
    return (async () => {
      while (done < total) {
        if (signal?.aborted) throw aborted();
        const units = aim(sliceUnits());
        const t0 = performance.now();
        const p = engine.applyAsync!(sub);
        releaseSub();
        try {
          await p;
        } catch (e) {
          // (the binding writes nothing when a walk is refused or cancelled)
          if (e instanceof Error) e.message += ` (${c.call} stopped ${progressText(done, batch, tokens)})`;
          throw e;
        }
        learn(units, performance.now() - t0);
        done += units;
      }
    })();
  }

  // The first slice now, the others after turns of the loop.
  const first = step();
  if (first !== null) return Promise.reject(first);
  if (done === total) return Promise.resolve();
  return (async () => {
    while (done < total) {
      await yieldToLoop();
      if (signal?.aborted) throw aborted();
      const e = step();
      if (e !== null) throw e;
    }
  })();
}

// ---- decode-sized calls ---------------------------------------------------------------------

/**
 * Async calls rotating at most this many bytes (q + k rows, rotaryDim elements each) run inline
 * and resolve at once: below it the sync call takes less time than the thread hop alone (~20 us
 * on a 2-vCPU EPYC: an S1 decode call is ~1 us sync, ~22 us through the libuv pool), and less than
 * one slice. 512 KiB is ~16 decode tokens of a Llama-3-8B layer (f32), a sync call of ~10-20 us.
 * Measured: docs/maintainers/perf.md.
 */
export const ASYNC_INLINE_BYTES = 512 * 1024;

/** Both arrays' bytes at most ASYNC_INLINE_BYTES (read by the intrinsic getter: no user code runs;
 * anything that is not a typed array is left to the full checks). */
export function inlineSized(q: unknown, k: unknown): boolean {
  try {
    return byteLengthOf(q as ArrayBufferView) + byteLengthOf(k as ArrayBufferView) <= ASYNC_INLINE_BYTES;
  } catch {
    return false;
  }
}
