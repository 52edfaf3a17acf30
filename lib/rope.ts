// class Rope: checks its options once, resolves the scaling to invFreq + attentionScaling, and for
// every call lets validate.ts fill a reused plan that the chosen engine (native or JS) walks.
import { hardwareThreads } from './backend.js';
import type { FromConfigOptions, GGUFMetadata, HFConfig } from './models/config-types.js';
import { ropeOptionsFromConfig } from './models/hf-config.js';
import { ropeLayerOptionsFromConfig } from './models/hf-layers.js';
import { ropeOptionsFromGGUF, type GgufRopeTensors } from './models/gguf.js';
import { ropeLayersFromGGUF } from './models/gguf-layers.js';
import { cosSinTable } from './cossin.js';
import { applyWithCache, CacheWriter } from './engine-js-cache.js';
import { type ResolvedScaling } from './scaling.js';
import { checkRopeOptions } from './rope-options.js';
import { APPLY_ASYNC_KEYS, APPLY_QK_ASYNC_KEYS, APPLY_QK_KEYS, checkApplyQKKeys, checkKnownKeys, knownCacheKeys } from './options.js';
import {
  DTYPE_BF16,
  DTYPE_F16,
  DTYPE_F32,
  STYLE_HALF,
  STYLE_INTERLEAVED,
  type ApplyOptions,
  type ApplyQKOptions,
  type AsyncOptions,
  type CallPlan,
  type Engine,
  type Positions,
  type RopeArray,
  type SameKind,
  type RopeGeometry,
  type RopeOptions,
  type RopeStyle,
  type TensorPlan,
} from './types.js';
import { cacheCode, checkPrepare, RopeStep, StepTable, type PrepareOptions } from './step.js';
import { abortedBefore, allShared, asyncCores, type SliceEngine, ASYNC_INLINE_BYTES, inlineSized, offThreadThreads, ownPlan, readSignal, runSliced, type SignalLike } from './async.js';
import { runSplit, splitPoolThreads } from './async-split.js';
import { createEngine, rotatedBytes, trailingView, type AsyncEngine, type EngineName } from './rope-engine.js';
import { describe, newCallPlan, newTensorPlan, planApply, planApplyQK, planCosSin, releasePlan } from './validate.js';

export { ASYNC_INLINE_BYTES };

// createRope's engine travels to the constructor as an instance of this module-private class (a
// second argument the public signature does not have): nothing outside this module can make one,
// so `new Rope(options, anything)` keeps the default engine, and no module state is set around the
// call.
class ForcedEngine {
  constructor(readonly name: EngineName) {}
}

export class Rope {
  readonly #geometry: RopeGeometry;
  readonly #scaling: ResolvedScaling;
  readonly #engine: AsyncEngine;
  readonly #plan: CallPlan;
  readonly #k: TensorPlan;
  readonly #style: RopeStyle;
  readonly #base: number;
  readonly #scalingType: string;
  readonly #engineName: 'native' | 'wasm' | 'js';
  // The native binding proves q/k disjointness itself (validate.ts planApplyQK).
  readonly #engineChecksOverlap: boolean;
  // #plan and #k are in use by a call: user code inside it (an options getter, a Proxy of
  // positions) that calls this Rope again gets a fresh plan instead of clobbering the outer one.
  #busy = false;
  // applyQK's route to the engine's prepared steps (native, frequencies not sequence-dependent).
  readonly #stepsOk: boolean;
  readonly #steps: StepTable | null;
  #cacheWriter: CacheWriter | null = null;

  constructor(options: RopeOptions);
  constructor(options: RopeOptions, forced?: unknown) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Rope options must be an object with headDim, got ${describe(options)}`);
    }
    const { headDim, rotaryDim, base, style, scaling, pairSection, rotaryOffset } = checkRopeOptions(options);
    this.#scaling = scaling;
    this.#style = style;
    this.#geometry = {
      headDim,
      rotaryDim,
      style: style === 'half' ? STYLE_HALF : STYLE_INTERLEAVED,
      pairSection,
      sectionRows: pairSection === null ? 1 : options.mropeSection!.length,
      rotaryOffset,
    };
    // rotarySlice 'trailing': every engine sees each head's rotated slice as a head of rotaryDim
    // values starting rotaryOffset further on (a view of the same array). Its bounds checks then
    // cover exactly the values it touches; the call's own checks use the whole head.
    const walked = rotaryOffset === 0 ? this.#geometry : { ...this.#geometry, headDim: rotaryDim, rotaryOffset: 0 };
    const freq = this.#scaling.base;
    this.#plan = newCallPlan(freq.invFreq);
    this.#plan.attentionScaling = freq.attentionScaling;
    this.#k = newTensorPlan();
    const { engine, name: which } = createEngine(walked, forced instanceof ForcedEngine ? forced.name : null);
    this.#engine = rotaryOffset === 0 ? engine : trailingView(engine, rotaryOffset);
    this.#engineChecksOverlap = which === 'native';
    this.#engineName = which;
    this.#base = base;
    this.#scalingType = options.scaling?.type ?? 'default';
    this.#stepsOk = this.#engine.prepareStep !== undefined && !this.#scaling.dependsOnSeqLen;
    this.#steps = this.#stepsOk ? new StepTable(this.#engine.prepareStep!.bind(this.#engine), freq.invFreq, freq.attentionScaling) : null;
  }

  /** A Rope for a parsed Hugging Face config.json (rope_theta, rope_scaling or rope_parameters,
   * head_dim, ...): the rotation of the model's full-attention layers, what transformers calls the
   * model's rotary embedding. Models whose layers differ (Gemma 2/3 sliding layers, NoPE layers,
   * hybrid models): use layersFromConfig. A model_type rope-simd does not know, or a key its family's
   * code turns into the rotation that rope-simd does not interpret, is refused by name with the
   * Rope to build by hand; `options` opts in to reading it anyway (FromConfigOptions). */
  static fromConfig(config: HFConfig, options?: FromConfigOptions): Rope {
    return construct(ropeOptionsFromConfig(config, 'full_attention', options));
  }

  /** One entry per decoder layer (config.num_hidden_layers): the Rope that layer applies, or null
   * where it applies none (NoPE layers, layers without attention). Layers with equal settings share
   * one instance. */
  static layersFromConfig(config: HFConfig, options?: FromConfigOptions): (Rope | null)[] {
    const made = new Map<string, Rope>();
    return ropeLayerOptionsFromConfig(config, options).map((o) => {
      if (o === null) return null;
      const key = JSON.stringify(o);
      let r = made.get(key);
      if (r === undefined) made.set(key, (r = construct(o)));
      return r;
    });
  }

  /** A Rope for GGUF metadata (llama.cpp key names, e.g. 'llama.rope.freq_base'); tensors: the
   * rope_freqs / rope_factors_* tensors llama.cpp keeps Llama 3.1 and LongRoPE scaling in. */
  static fromGGUF(metadata: GGUFMetadata, tensors?: GgufRopeTensors): Rope {
    return construct(ropeOptionsFromGGUF(metadata, tensors));
  }

  /**
   * One entry per block ({arch}.block_count) of a GGUF model: the Rope llama.cpp rotates that
   * layer with, or null where it applies none (NoPE layers, layers without attention). Layers with
   * the same settings share one Rope. Sliding-window layers follow the keys llama.cpp reads for
   * the architecture (attention.sliding_window_pattern, rope.freq_base_swa, rope.dimension_count_swa).
   */
  static layersFromGGUF(metadata: GGUFMetadata, tensors?: GgufRopeTensors): (Rope | null)[] {
    const made = new Map<object, Rope>();
    return ropeLayersFromGGUF(metadata, tensors).map((o) => {
      if (o === null) return null;
      let r = made.get(o);
      if (r === undefined) made.set(o, (r = construct(o)));
      return r;
    });
  }

  get headDim(): number {
    return this.#geometry.headDim;
  }
  get rotaryDim(): number {
    return this.#geometry.rotaryDim;
  }
  /** Which rotaryDim values of each head rotate: 'leading' or 'trailing'. */
  get rotarySlice(): 'leading' | 'trailing' {
    return this.#geometry.rotaryOffset ? 'trailing' : 'leading';
  }
  /** Which engine this Rope runs on (backendInfo says why). */
  get engine(): 'native' | 'wasm' | 'js' {
    return this.#engineName;
  }
  /** The scaling the frequencies came from ('default' without one; rope_type in transformers). */
  get scalingType(): string {
    return this.#scalingType;
  }
  /** rope_theta. */
  get base(): number {
    return this.#base;
  }
  get style(): RopeStyle {
    return this.#style;
  }
  /** The frequencies used (for sequence-dependent scalings: those below the switch), a copy. */
  get invFreq(): Float64Array {
    return this.#scaling.base.invFreq.slice();
  }
  /** The factor on cos and sin (1 unless a scaling sets it). */
  get attentionScaling(): number {
    return this.#scaling.base.attentionScaling;
  }

  /** Rotates x in place. Returns nothing; a refused call throws and leaves x unchanged. */
  apply<A extends RopeArray>(x: A, opts: ApplyOptions<A>): void {
    const plan = this.#acquire();
    try {
      this.#frequencies(plan, planApply(plan, this.#geometry, x, opts));
      if (plan.tokens !== 0) this.#engine.apply(plan); // (0 tokens: an empty array, nothing to do)
    } finally {
      this.#release(plan);
    }
  }

  /** Rotates q and k in place in one call (each token's cos/sin computed once for both). With
   * `cache` (and `v`): q in place, the rotated k and v written to the cache's slots in its dtype,
   * rounded once; k and v unchanged (docs/guide/kv-cache.md). */
  applyQK<A extends RopeArray>(q: A, k: SameKind<A>, opts: ApplyQKOptions<A>): void {
    this.#applyQK(q, k, opts, APPLY_QK_KEYS);
  }

  // keys: the options the calling form takes (the async form's inline path also takes signal).
  #applyQK<A extends RopeArray>(q: A, k: SameKind<A>, opts: ApplyQKOptions<A>, keys: ReadonlySet<string>): void {
    if (this.#stepsOk && typeof opts === 'object' && opts !== null) {
      if (keys === APPLY_QK_KEYS) checkApplyQKKeys(opts);
      else checkKnownKeys(opts, keys, 'applyQKAsync');
      // The decode case straight to the binding's prepared-step call (lib/step.ts), which re-checks
      // arrays and positions and writes nothing unless it rotates. Every option is read once,
      // here; anything else goes on to the full checks with the values read.
      const o = opts as unknown as Record<string, unknown>;
      const dtype = o.dtype, qHeads = o.qHeads, kHeads = o.kHeads, layout = o.layout, batch = o.batch;
      const inverse = o.inverse, threads = o.threads, tokens = o.tokens, tokenStride = o.tokenStride;
      const qTokenStride = o.qTokenStride, kTokenStride = o.kTokenStride, positions = o.positions, seqLen = o.seqLen;
      const v = o.v;
      let cache = o.cache;
      if (layout === undefined && batch === undefined && tokens === undefined && tokenStride === undefined &&
          qTokenStride === undefined && kTokenStride === undefined && seqLen === undefined) {
        if (cache === undefined) {
          if (v === undefined) {
            const fast = this.#steps!.stepFor(qHeads, kHeads, dtype, threads, inverse);
            if (fast !== null && fast(q, k, positions)) return;
          }
        } else if (typeof cache === 'object' && cache !== null && knownCacheKeys(cache)) {
          // The cache's fields read once: the plain call gets these values, not the getters again.
          const c = cache as Record<string, unknown>;
          const ck = c.k, cv = c.v, slots = c.slots, cdtype = c.dtype, clayout = c.layout;
          const code = cacheCode(cdtype, clayout);
          const fast = code < 0 ? null : this.#steps!.stepFor(qHeads, kHeads, dtype, threads, inverse);
          if (fast !== null && fast.cache !== undefined && fast.cache(q, k, positions, v, ck, cv, slots, code)) return;
          cache = { k: ck, v: cv, slots, dtype: cdtype, layout: clayout };
        }
      }
      opts = { dtype, qHeads, kHeads, layout, batch, inverse, threads, tokens, tokenStride, qTokenStride, kTokenStride, positions, seqLen, v, cache } as unknown as ApplyQKOptions<A>;
    }
    const plan = this.#acquire();
    try {
      this.#frequencies(plan, planApplyQK(plan, this.#geometry, this.#kOf(plan), q, k, opts, this.#engineChecksOverlap, keys));
      if (plan.tokens !== 0) this.#exec(plan); // (0 tokens: an empty array, nothing to do)
    } finally {
      this.#release(plan);
    }
  }

  /**
   * A decode step: qHeads, kHeads, dtype, threads and inverse fixed once, then
   * step.applyQK(q, k, positions) rotates exactly as applyQK(q, k, { ...options, positions }) at
   * about the cost of one bare native call (lib/step.ts).
   */
  prepare(options: PrepareOptions): RopeStep {
    const c = checkPrepare(options);
    const plain = (q: RopeArray, k: RopeArray, opts: object): void => this.applyQK(q as Float32Array, k as Float32Array, opts as ApplyQKOptions);
    const engine = this.#engine;
    const base = this.#scaling.base;
    // A sequence-dependent scaling picks its frequencies per call: the plain call does that.
    const code = c.dtype === 'f32' ? DTYPE_F32 : c.dtype === 'f16' ? DTYPE_F16 : DTYPE_BF16;
    const fast =
      engine.prepareStep !== undefined && !this.#scaling.dependsOnSeqLen
        ? engine.prepareStep(base.invFreq, base.attentionScaling, code, c.qHeads, code, c.kHeads, c.threads, c.inverse)
        : null;
    const plainAsync = (q: RopeArray, k: RopeArray, opts: object): Promise<void> =>
      this.applyQKAsync(q as Float32Array, k as Float32Array, opts as ApplyQKOptions);
    return new RopeStep(fast, plain, c.options, plainAsync);
  }

  /** apply without blocking the event loop for more than about a millisecond (lib/async.ts); a bad
   * call rejects, writing nothing. opts.signal (an AbortSignal) stops it between two slices. */
  applyAsync<A extends RopeArray>(x: A, opts: ApplyOptions<A> & AsyncOptions): Promise<void> {
    let signal: SignalLike | undefined;
    try {
      signal = readSignal(signalOf(opts));
      if (signal?.aborted) return Promise.reject(abortedBefore('applyAsync', signal));
    } catch (e) {
      return Promise.reject(e);
    }
    const plan = this.#acquire();
    try {
      this.#frequencies(plan, planApply(plan, this.#geometry, x, opts, APPLY_ASYNC_KEYS));
      return this.#run(plan, signal, 'applyAsync');
    } catch (e) {
      return Promise.reject(e);
    } finally {
      this.#release(plan);
    }
  }

  applyQKAsync<A extends RopeArray>(q: A, k: SameKind<A>, opts: ApplyQKOptions<A> & AsyncOptions): Promise<void> {
    let signal: SignalLike | undefined;
    try {
      signal = readSignal(signalOf(opts));
      if (signal?.aborted) return Promise.reject(abortedBefore('applyQKAsync', signal));
    } catch (e) {
      return Promise.reject(e);
    }
    // Decode-sized work runs inline, through applyQK's prepared-step path: the same checks and
    // refusals, and a decode step costs one sync call plus the promise (the plan below reads and
    // checks every option again).
    if (this.#stepsOk && inlineSized(q, k)) {
      try {
        this.#applyQK(q, k, opts, APPLY_QK_ASYNC_KEYS);
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const plan = this.#acquire();
    try {
      this.#frequencies(plan, planApplyQK(plan, this.#geometry, this.#kOf(plan), q, k, opts, this.#engineChecksOverlap, APPLY_QK_ASYNC_KEYS));
      return this.#run(plan, signal, 'applyQKAsync');
    } catch (e) {
      return Promise.reject(e);
    } finally {
      this.#release(plan);
    }
  }

  /**
   * cos and sin as Hugging Face's rotary embedding returns them: Float32Array [n, rotaryDim] with
   * cos[t, j] = cos[t, j + rotaryDim/2] = attentionScaling * cos(position_t * invFreq_j).
   * positions: one position, or one per row (M-RoPE: sections rows of n, row-major).
   */
  cosSin(positions: Positions): { cos: Float32Array; sin: Float32Array } {
    const t = planCosSin(this.#geometry, positions);
    const f = this.#scaling.dependsOnSeqLen ? this.#scaling.forSeqLen(t.maxPosition + 1) : this.#scaling.base;
    return cosSinTable(f.invFreq, f.attentionScaling, this.#geometry, t.positions, t.count, t.count);
  }

  // An async call, checked. Small work (a decode step) runs inline: handing it on costs more than
  // doing it (ASYNC_INLINE_BYTES), and the promise resolves at once. SharedArrayBuffer memory on
  // the native engine is rotated off the JS thread, in place (native/binding/async.h), when the walk can
  // leave a core to the event loop (offThreadThreads), else from both ends at once, the pool's and
  // this thread's (lib/async-split.ts); anything else in slices on the JS thread
  // with a turn of the event loop between them (lib/async.ts). The plan is this Rope's reused
  // one: the slices run on a copy.
  #run(plan: CallPlan, signal: SignalLike | undefined, call: string): Promise<void> {
    if (plan.tokens === 0) return Promise.resolve(); // an empty array: nothing to do
    const engine = this.#engine;
    const rotaryDim = this.#geometry.rotaryDim;
    const bytes = rotatedBytes(plan, rotaryDim);
    if (bytes <= ASYNC_INLINE_BYTES) {
      this.#exec(plan);
      return Promise.resolve();
    }
    // (a cache write runs in slices on the JS thread: an abort leaves the tokens before the slice
    // rotated and cached, the others untouched)
    const shared = engine.applyAsync !== undefined && !plan.cache && allShared(plan);
    const threads = shared ? offThreadThreads(plan.threads, bytes, hardwareThreads) : 0;
    const offThread = threads > 0;
    if (offThread) plan.threads = threads;
    // (without a signal nothing needs a slice's end: one call on the pool)
    if (offThread && signal === undefined) return engine.applyAsync!(plan);
    // No core to spare: the pool from the end, this thread from the start (lib/async-split.ts).
    if (shared && !offThread && plan.batch === 1 && asyncCores(hardwareThreads) >= 2) {
      return runSplit(engine, plan, splitPoolThreads(hardwareThreads), { call, engineName: this.#engineName, signal });
    }
    const sliced = plan.cache ? this.#cacheEngine() : engine;
    return runSliced(sliced, ownPlan(plan), { call, engineName: this.#engineName, headDim: this.#geometry.headDim, rotaryDim, signal, offThread });
  }

  // The engine's walk; with a cache option the engine's one-pass cache write, or (an engine
  // without one: js, an older addon) the walk on q, then the cache write in JS (lib/engine-js-cache.ts).
  #exec(plan: CallPlan): void {
    const engine = this.#engine;
    if (!plan.cache) engine.apply(plan);
    else if (engine.applyCache !== undefined) engine.applyCache(plan);
    else applyWithCache(engine, this.#writer(), plan);
  }

  #writer(): CacheWriter {
    if (this.#cacheWriter === null) {
      this.#cacheWriter = new CacheWriter(this.#geometry);
      if (this.#engineName !== 'js') warnCacheInJs(this.#engineName);
    }
    return this.#cacheWriter;
  }

  // What the slicer runs for a call with a cache write: each slice's q, then its tokens' rows.
  #cacheEngine(): AsyncEngine {
    const engine = this.#engine as AsyncEngine & Pick<SliceEngine, 'ownsMemory' | 'rebind'> & { applyCache?: (p: CallPlan) => void };
    const one = engine.applyCache;
    if (one !== undefined) return { apply: (p: CallPlan) => one(p), ownsMemory: engine.ownsMemory, rebind: engine.rebind } as AsyncEngine;
    const writer = this.#writer();
    return { apply: (p: CallPlan) => applyWithCache(engine, writer, p), ownsMemory: engine.ownsMemory, rebind: engine.rebind } as AsyncEngine;
  }

  #frequencies(plan: CallPlan, seqLen: number): void {
    if (!this.#scaling.dependsOnSeqLen) return;
    const f = this.#scaling.forSeqLen(seqLen);
    plan.invFreq = f.invFreq;
    plan.attentionScaling = f.attentionScaling;
  }

  // The reused plan, or (a call re-entered from user code running inside another) a fresh one.
  #acquire(): CallPlan {
    if (!this.#busy) {
      this.#busy = true;
      return this.#plan;
    }
    const plan = newCallPlan(this.#scaling.base.invFreq);
    plan.attentionScaling = this.#scaling.base.attentionScaling;
    return plan;
  }

  // The k tensor plan to fill: the reused one goes with the reused plan only.
  #kOf(plan: CallPlan): TensorPlan {
    return plan === this.#plan ? this.#k : newTensorPlan();
  }

  #release(plan: CallPlan): void {
    releasePlan(plan);
    if (plan === this.#plan) this.#busy = false;
  }
}

let cacheWarned = false;
/** Once per process: the cache write is JavaScript on this engine (an addon built before it had
 * the kernel). A browser bundle has no process: console.warn there. */
function warnCacheInJs(engine: string): void {
  if (cacheWarned) return;
  cacheWarned = true;
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined>; emitWarning?: (m: string, o: object) => void } }).process;
  if (proc?.env?.ROPE_SIMD_CACHE_WARNING === '0') return;
  const text =
    `rope-simd: applyQK's cache write (the rotated k and v converted into the cache) runs in JavaScript on the ${engine} engine; ` +
    'q is rotated by the engine as before. Set ROPE_SIMD_CACHE_WARNING=0 (or run node with --disable-warning=ROPE_SIMD_CACHE_JS) to silence this warning.';
  if (typeof proc?.emitWarning === 'function') proc.emitWarning(text, { code: 'ROPE_SIMD_CACHE_JS' });
  else console.warn(`[ROPE_SIMD_CACHE_JS] ${text}`);
}

// The signal option, read once (anything but an object is left to the full checks).
function signalOf(opts: unknown): unknown {
  return typeof opts === 'object' && opts !== null ? (opts as { signal?: unknown }).signal : undefined;
}

// Inside the class body a `new Rope` makes the bundler rename the class (errors then said
// "_Rope"): statics construct through this instead.
function construct(options: RopeOptions): Rope {
  return new Rope(options);
}

// console.log(rope), util.inspect: the class and its settings rather than an empty `Rope {}`.
Object.defineProperty(Rope.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value(this: Rope, depth: number, options: object, inspect?: (v: unknown, o: object) => string): string {
    const settings = {
      headDim: this.headDim,
      rotaryDim: this.rotaryDim,
      style: this.style,
      base: this.base,
      scalingType: this.scalingType,
      attentionScaling: this.attentionScaling,
      engine: this.engine,
    };
    return `Rope ${inspect ? inspect(settings, options) : JSON.stringify(settings)}`;
  },
});

/** A Rope on a forced engine (parity tests, the benchmark). Throws if that engine is unavailable. */
export function createRope(options: RopeOptions, engine: 'js' | 'native' | 'wasm'): Rope {
  if (engine !== 'js' && engine !== 'native' && engine !== 'wasm') {
    throw new TypeError(`engine must be 'js', 'native' or 'wasm', got ${describe(engine)}`);
  }
  return new (Rope as unknown as new (o: RopeOptions, f: ForcedEngine) => Rope)(options, new ForcedEngine(engine));
}
