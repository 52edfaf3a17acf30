// rope.prepare(): a decode step. Everything but the arrays and positions is fixed once, so a call
// crosses into C++ with (slot, q, k, positions) and the binding re-checks only what can change:
// the arrays' lengths and memory, and the positions (the arrays' kinds are tested just before, in
// lib/engine-native.ts: the binding reads them by their bytes). Whatever is not that fast case
// (a Float16Array, number[] positions, overlapping views, a bad argument, the JS engine, a scaling
// that depends on the sequence length) is the plain applyQK call, with its checks and messages,
// so a step rotates and refuses exactly as rope.applyQK(q, k, { ...options, positions }) does.
import type { AsyncOptions, CacheCallOptions, DTypeName, Positions, RopeArray, SameKind, Threads } from './types.js';
import { checkKnownKeys, nearest, PREPARE_KEYS, STEP_ASYNC_KEYS, STEP_KV_KEYS } from './options.js';
import { abortedBefore, inlineSized, readSignal } from './async.js';
import { MAX_HEADS, MAX_THREADS } from './limits.js';
import { DTYPE_BF16, DTYPE_F16, DTYPE_F32 } from './types.js';
import { checkPositiveInt, describe } from './validate.js';

export interface PrepareOptions {
  qHeads: number;
  kHeads: number;
  /** As for applyQK: 'f32' (default) for Float32Array, 'f16'/'bf16' for Uint16Array bits. */
  dtype?: DTypeName;
  threads?: Threads;
  inverse?: boolean;
}

/** The engine's fast call for one prepared configuration: true when it rotated, false (nothing
 * written) when the call is not its fast case. */
export interface StepFn {
  (q: unknown, k: unknown, positions: unknown): boolean;
  /** The same call with a cache write (applyQK's v and cache, read once: cacheCode from
   * cacheCode()), where the engine has it: true when it rotated and wrote, false (nothing written)
   * when the call is not its fast case. */
  cache?: (q: unknown, k: unknown, positions: unknown, v: unknown, kCache: unknown, vCache: unknown, slots: unknown, cacheCode: number) => boolean;
}

/** The binding's code for a cache's dtype and layout (dtype | hnd << 2), or -1 when either is not
 * plainly valid (the plain call then reports it). undefined dtype is f32: a Uint16Array cache
 * without one fails the binding's kind test and gets the plain call's message. */
export function cacheCode(dtype: unknown, layout: unknown): number {
  const d = dtype === undefined || dtype === 'f32' ? 0 : dtype === 'f16' ? 1 : dtype === 'bf16' ? 2 : -1;
  const l = layout === undefined || layout === 'nhd' ? 0 : layout === 'hnd' ? 4 : -1;
  return d < 0 || l < 0 ? -1 : d | l;
}

type PlainApplyQK = (q: RopeArray, k: RopeArray, opts: object) => void;
type PlainApplyQKAsync = (q: RopeArray, k: RopeArray, opts: object) => Promise<void>;



export interface CheckedPrepare {
  qHeads: number;
  kHeads: number;
  dtype: DTypeName;
  threads: number; // 0 = 'auto'
  inverse: boolean;
  options: Readonly<PrepareOptions>;
}


/** Checks rope.prepare's options (read once: a getter cannot change them later). */
export function checkPrepare(opts: unknown): CheckedPrepare {
  if (typeof opts !== 'object' || opts === null) {
    throw new TypeError(`prepare options must be an object with qHeads and kHeads, got ${describe(opts)}`);
  }
  for (const key in opts) {
    if (!PREPARE_KEYS.has(key)) {
      const near = nearest(key, PREPARE_KEYS);
      throw new TypeError(`prepare does not take '${key}'${near === null ? '' : ` (did you mean '${near}'?)`}: a step fixes qHeads, kHeads, dtype, threads and inverse (layout 'shd'); use applyQK for other layouts`);
    }
  }
  const o = opts as Record<string, unknown>;
  const qHeads = checkPositiveInt('qHeads', o.qHeads);
  const kHeads = checkPositiveInt('kHeads', o.kHeads);
  const dtype = o.dtype === undefined ? 'f32' : o.dtype;
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new TypeError(`dtype must be 'f32', 'f16' or 'bf16', got ${describe(dtype)}`);
  const th = o.threads;
  let threads = 0;
  if (th !== undefined && th !== 'auto') {
    if (typeof th !== 'number') throw new TypeError(`threads must be 'auto' or a positive integer, got ${describe(th)}`);
    if (!Number.isInteger(th) || th < 1 || th > MAX_THREADS) throw new RangeError(`threads must be 'auto' or an integer in [1, ${MAX_THREADS}], got ${describe(th)}`);
    threads = th;
  }
  const inverse = o.inverse;
  if (inverse !== undefined && typeof inverse !== 'boolean') throw new TypeError(`inverse must be a boolean, got ${describe(inverse)}`);
  // The caller's options as given (dtype undefined also lets a Float16Array through applyQK).
  const options: PrepareOptions = { qHeads, kHeads };
  if (o.dtype !== undefined) options.dtype = dtype;
  if (th !== undefined) options.threads = th as Threads;
  if (inverse !== undefined) options.inverse = inverse as boolean;
  return { qHeads, kHeads, dtype, threads, inverse: inverse === true, options: Object.freeze(options) };
}

// A step's { v, cache } argument, read once (its keys refused by name like every option object).
function readKv(kv: unknown, call: string): { v: unknown; cache: unknown } {
  if (typeof kv !== 'object' || kv === null) throw new TypeError(`${call}'s fourth argument must be an object { v, cache }, got ${describe(kv)}`);
  checkKnownKeys(kv, STEP_KV_KEYS, call);
  const o = kv as { v?: unknown; cache?: unknown };
  return { v: o.v, cache: o.cache };
}

type PrepareStep = (invFreq: Float64Array, attentionScaling: number, qDtype: number, qHeads: number, kDtype: number, kHeads: number, threads: number, inverse: boolean) => StepFn | null;

/** A Rope's prepared steps by their options (its applyQK's decode path): up to 64, the last one
 * at hand. */
export class StepTable {
  readonly #steps = new Map<string, StepFn | null>();
  readonly #prepare: PrepareStep;
  readonly #invFreq: Float64Array;
  readonly #attentionScaling: number;
  #lastKey: unknown[] = [];
  #lastStep: StepFn | null = null;

  constructor(prepare: PrepareStep, invFreq: Float64Array, attentionScaling: number) {
    this.#prepare = prepare;
    this.#invFreq = invFreq;
    this.#attentionScaling = attentionScaling;
  }

  /** The engine's step for these (already read) options, or null when they are not plainly valid
   * (the full checks then report) or the engine has none. */
  stepFor(qHeads: unknown, kHeads: unknown, dtype: unknown, threads: unknown, inverse: unknown): StepFn | null {
    const last = this.#lastKey;
    if (qHeads === last[0] && kHeads === last[1] && dtype === last[2] && threads === last[3] && inverse === last[4]) return this.#lastStep;
    if (typeof qHeads !== 'number' || typeof kHeads !== 'number' || !Number.isInteger(qHeads) || !Number.isInteger(kHeads) ||
        qHeads < 1 || kHeads < 1 || qHeads > MAX_HEADS || kHeads > MAX_HEADS) return null;
    if (dtype !== undefined && dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') return null;
    if (inverse !== undefined && typeof inverse !== 'boolean') return null;
    let t = 0;
    if (threads !== undefined && threads !== 'auto') {
      if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) return null;
      t = threads;
    }
    const key = `${qHeads},${kHeads},${String(dtype)},${t},${inverse === true}`;
    let step = this.#steps.get(key);
    if (step === undefined) {
      const code = dtype === 'f16' ? DTYPE_F16 : dtype === 'bf16' ? DTYPE_BF16 : DTYPE_F32;
      step = this.#prepare(this.#invFreq, this.#attentionScaling, code, qHeads, code, kHeads, t, inverse === true);
      if (this.#steps.size < 64) this.#steps.set(key, step);
    }
    this.#lastKey = [qHeads, kHeads, dtype, threads, inverse];
    this.#lastStep = step;
    return step;
  }
}

/** A prepared decode step of one Rope (rope.prepare). */
export class RopeStep {
  readonly #fast: StepFn | null;
  readonly #plain: PlainApplyQK;
  readonly #plainAsync: PlainApplyQKAsync;
  readonly #options: Readonly<PrepareOptions>;

  /** @internal (made by Rope.prepare) */
  constructor(fast: StepFn | null, plain: PlainApplyQK, options: Readonly<PrepareOptions>, plainAsync: PlainApplyQKAsync) {
    this.#fast = fast;
    this.#plain = plain;
    this.#plainAsync = plainAsync;
    this.#options = options;
  }

  /** The options this step was prepared with (a frozen copy). */
  get options(): Readonly<PrepareOptions> {
    return this.#options;
  }

  /** rope.applyQK(q, k, { ...options, positions }): q and k rotated in place, same results, same
   * refusals. positions: a start offset (number) or one position per token (Int32Array, number[]).
   * kv: { v, cache } as for applyQK (docs/guide/kv-cache.md): then it is rope.applyQK(q, k, { ...options,
   * positions, v, cache }), the plain call with its checks. */
  applyQK<A extends RopeArray>(q: A, k: SameKind<A>, positions: Positions, kv?: CacheCallOptions<A>): void {
    if (kv !== undefined) {
      this.#plain(q, k, { ...this.#options, positions, ...readKv(kv, 'step.applyQK') });
      return;
    }
    const fast = this.#fast;
    if (fast !== null && fast(q, k, positions)) return;
    this.#plain(q, k, { ...this.#options, positions });
  }

  /** rope.applyQKAsync(q, k, { ...options, positions, signal }): same results, same refusals (as
   * rejections); decode-sized calls rotate before it returns, as one step call. */
  applyQKAsync<A extends RopeArray>(q: A, k: SameKind<A>, positions: Positions, opts?: AsyncOptions & CacheCallOptions<A>): Promise<void> {
    let signal: unknown;
    let kv: { v?: unknown; cache?: unknown } | null = null;
    try {
      if (opts !== undefined) {
        if (typeof opts !== 'object' || opts === null) throw new TypeError(`applyQKAsync's options must be an object ({ signal, v, cache }), got ${describe(opts)}`);
        checkKnownKeys(opts, STEP_ASYNC_KEYS, 'step.applyQKAsync');
        signal = opts.signal;
        const v = opts.v, cache = opts.cache;
        if (v !== undefined || cache !== undefined) kv = { v, cache };
        const s = readSignal(signal);
        if (s?.aborted) return Promise.reject(abortedBefore('applyQKAsync', s));
      }
      const fast = this.#fast;
      if (kv === null && fast !== null && inlineSized(q, k) && fast(q, k, positions)) return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
    const o: Record<string, unknown> = { ...this.#options, positions };
    if (signal !== undefined) o.signal = signal;
    if (kv !== null) Object.assign(o, kv);
    return this.#plainAsync(q, k, o);
  }
}
