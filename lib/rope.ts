// class Rope: checks its options once, resolves the scaling to invFreq + attentionScaling, and for
// every call lets validate.ts fill a reused plan that the chosen engine (native or JS) walks.
import { nativeAddon, backendInfo } from './backend.js';
import { ropeOptionsFromConfig } from './models/hf-config.js';
import { ropeOptionsFromGGUF, type GgufRopeTensors } from './models/gguf.js';
import { cosSinTable } from './cossin.js';
import { createJsEngine } from './engine-js.js';
import { createNativeEngine } from './engine-native.js';
import { pairSections, resolveScaling, type ResolvedScaling } from './scaling.js';
import {
  STYLE_HALF,
  STYLE_INTERLEAVED,
  type ApplyOptions,
  type ApplyOptions16,
  type ApplyOptionsF16Array,
  type ApplyOptionsF32,
  type ApplyQKOptions,
  type ApplyQKOptions16,
  type ApplyQKOptionsF16Array,
  type ApplyQKOptionsF32,
  type CallPlan,
  type Engine,
  type Float16ArrayLike,
  type Positions,
  type RopeGeometry,
  type RopeOptions,
  type RopeStyle,
  type TensorPlan,
} from './types.js';
import { checkPositiveInt, describe, newCallPlan, newTensorPlan, planApply, planApplyQK, planCosSin, releasePlan } from './validate.js';

type AsyncEngine = Engine & { applyAsync?(plan: CallPlan): Promise<void> };
type RopeArray = Float32Array | Uint16Array | Float16ArrayLike;

/** rotaryDim/2 is capped so the native walk's per-token scratch stays small (native/rope.h). */
const MAX_ROTARY_DIM = 8192;
const MAX_HEAD_DIM = 2 ** 24;

// createRope() sets this for the duration of one constructor call.
let forcedEngine: 'js' | 'native' | null = null;

function checkNumber(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  return v;
}

function checkEvenDim(name: string, v: unknown, max: number, maxName: string): number {
  const n = checkNumber(name, v);
  if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new RangeError(`${name} must be an even integer >= 2, got ${describe(n)}`);
  if (n > max) throw new RangeError(`${name} ${n} is greater than ${maxName} = ${max}`);
  return n;
}

/**
 * The frequencies the options derive must be finite and > 0 (and attentionScaling finite): an
 * option can pass its own check and still break them (base 1e-300 overflows base^(-2j/d); a
 * scaling factor of 1e-320 divides to Infinity). Refused here, naming the option, instead of an
 * engine failing later about an invFreq the user never passed (native) or writing NaN (JS).
 */
/** invFreq must stay below this: position * invFreq (positions < 2^31) then stays below 2^52,
 * where both engines' angle reduction is exact (native/kernels/sincos.h; measured: the engines
 * agree bit for bit up to invFreq 2^22 and drift apart from 2^23). Real models have invFreq <= 1. */
export const MAX_INV_FREQ = 2 ** 21;

function checkFrequencies(f: { invFreq: Float64Array; attentionScaling: number }, base: number, rotaryDim: number, scaling: unknown): void {
  const inv = f.invFreq;
  let bad = -1;
  for (let j = 0; j < inv.length; j++) {
    if (!(inv[j] > 0 && inv[j] < MAX_INV_FREQ)) {
      bad = j;
      break;
    }
  }
  const scaled = scaling !== undefined && scaling !== null;
  if (bad >= 0) {
    const plain = base ** (-(2 * bad) / rotaryDim);
    const cause = !scaled || !(plain > 0 && plain < MAX_INV_FREQ) ? `base ${describe(base)}` : `scaling ${describeScaling(scaling)}`;
    throw new RangeError(
      `${cause} makes invFreq[${bad}] = ${describe(inv[bad])}: the rotation frequencies must be > 0 and below 2^21 (check ${cause.split(' ')[0]})`,
    );
  }
  if (!Number.isFinite(f.attentionScaling)) {
    throw new RangeError(
      `scaling ${describeScaling(scaling)} makes attentionScaling = ${describe(f.attentionScaling)}: it must be finite (check scaling)`,
    );
  }
}

function describeScaling(s: unknown): string {
  if (typeof s !== 'object' || s === null) return describe(s);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number' || typeof v === 'string') parts.push(`${k}: ${typeof v === 'string' ? `'${v}'` : describe(v)}`);
    else if (Array.isArray(v)) parts.push(`${k}: [${v.length} values]`);
  }
  return `{ ${parts.join(', ')} }`;
}

export class Rope {
  readonly #geometry: RopeGeometry;
  readonly #scaling: ResolvedScaling;
  readonly #engine: AsyncEngine;
  readonly #plan: CallPlan;
  readonly #k: TensorPlan;
  readonly #style: RopeStyle;
  // The native binding proves q/k disjointness itself (validate.ts planApplyQK).
  readonly #engineChecksOverlap: boolean;
  // #plan and #k are in use by a call: user code inside it (an options getter, a Proxy of
  // positions) that calls this Rope again gets a fresh plan instead of clobbering the outer one.
  #busy = false;

  constructor(options: RopeOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`Rope options must be an object with headDim, got ${describe(options)}`);
    }
    const headDim = checkEvenDim('headDim', options.headDim, MAX_HEAD_DIM, 'the largest supported headDim');
    const rotaryDim =
      options.rotaryDim === undefined ? headDim : checkEvenDim('rotaryDim', options.rotaryDim, headDim, 'headDim');
    if (rotaryDim > MAX_ROTARY_DIM) throw new RangeError(`rotaryDim ${rotaryDim} is greater than the largest supported, ${MAX_ROTARY_DIM}`);
    const base = options.base === undefined ? 10000 : checkNumber('base', options.base);
    if (!Number.isFinite(base) || base <= 0) throw new RangeError(`base must be a finite number > 0, got ${describe(base)}`);
    const style = options.style ?? 'half';
    if (style !== 'half' && style !== 'interleaved') {
      throw new TypeError(`style must be 'half' or 'interleaved', got ${describe(style)}`);
    }
    if (options.maxPositions !== undefined) checkPositiveInt('maxPositions', options.maxPositions);
    this.#scaling = resolveScaling({ ...options, rotaryDim, base });
    checkFrequencies(this.#scaling.base, base, rotaryDim, options.scaling);
    const pairSection = pairSections(rotaryDim, options.mropeSection, options.mropeInterleaved);
    this.#style = style;
    this.#geometry = {
      headDim,
      rotaryDim,
      style: style === 'half' ? STYLE_HALF : STYLE_INTERLEAVED,
      pairSection,
      sectionRows: pairSection === null ? 1 : options.mropeSection!.length,
    };
    const freq = this.#scaling.base;
    this.#plan = newCallPlan(freq.invFreq);
    this.#plan.attentionScaling = freq.attentionScaling;
    this.#k = newTensorPlan();
    const which = forcedEngine ?? (nativeAddon ? 'native' : 'js');
    if (which === 'native') {
      if (!nativeAddon) throw new Error(`the native engine is not available: ${backendInfo.reason ?? 'not loaded'}`);
      this.#engine = createNativeEngine(nativeAddon, this.#geometry);
    } else {
      this.#engine = createJsEngine(this.#geometry);
    }
    this.#engineChecksOverlap = which === 'native';
  }

  /** A Rope for a parsed Hugging Face config.json (rope_theta, rope_scaling, head_dim, ...). */
  static fromConfig(config: object): Rope {
    return new Rope(ropeOptionsFromConfig(config));
  }

  /** A Rope for GGUF metadata (llama.cpp key names, e.g. 'llama.rope.freq_base'); tensors: the
   * rope_freqs / rope_factors_* tensors llama.cpp keeps Llama 3.1 and LongRoPE scaling in. */
  static fromGGUF(metadata: object, tensors?: GgufRopeTensors): Rope {
    return new Rope(ropeOptionsFromGGUF(metadata, tensors));
  }

  get headDim(): number {
    return this.#geometry.headDim;
  }
  get rotaryDim(): number {
    return this.#geometry.rotaryDim;
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

  /** Rotates x in place. Returns nothing. */
  apply(x: Float32Array, opts: ApplyOptionsF32): void;
  apply(x: Uint16Array, opts: ApplyOptions16): void;
  apply(x: Float16ArrayLike, opts: ApplyOptionsF16Array): void;
  apply(x: RopeArray, opts: ApplyOptions): void {
    const plan = this.#acquire();
    try {
      this.#frequencies(plan, planApply(plan, this.#geometry, x, opts));
      if (plan.tokens !== 0) this.#engine.apply(plan); // (0 tokens: an empty array, nothing to do)
    } finally {
      this.#release(plan);
    }
  }

  /** Rotates q and k in place in one call (each token's cos/sin computed once for both). */
  applyQK(q: Float32Array, k: Float32Array, opts: ApplyQKOptionsF32): void;
  applyQK(q: Uint16Array, k: Uint16Array, opts: ApplyQKOptions16): void;
  applyQK(q: Float16ArrayLike, k: Float16ArrayLike, opts: ApplyQKOptionsF16Array): void;
  applyQK(q: RopeArray, k: RopeArray, opts: ApplyQKOptions): void {
    const plan = this.#acquire();
    try {
      this.#frequencies(plan, planApplyQK(plan, this.#geometry, this.#kOf(plan), q, k, opts, this.#engineChecksOverlap));
      if (plan.tokens !== 0) this.#engine.apply(plan); // (0 tokens: an empty array, nothing to do)
    } finally {
      this.#release(plan);
    }
  }

  /** apply off the event loop where the engine can (native); a bad call rejects. */
  applyAsync(x: Float32Array, opts: ApplyOptionsF32): Promise<void>;
  applyAsync(x: Uint16Array, opts: ApplyOptions16): Promise<void>;
  applyAsync(x: Float16ArrayLike, opts: ApplyOptionsF16Array): Promise<void>;
  applyAsync(x: RopeArray, opts: ApplyOptions): Promise<void> {
    const plan = this.#acquire();
    try {
      this.#frequencies(plan, planApply(plan, this.#geometry, x, opts));
      return this.#run(plan);
    } catch (e) {
      return Promise.reject(e);
    } finally {
      this.#release(plan);
    }
  }

  applyQKAsync(q: Float32Array, k: Float32Array, opts: ApplyQKOptionsF32): Promise<void>;
  applyQKAsync(q: Uint16Array, k: Uint16Array, opts: ApplyQKOptions16): Promise<void>;
  applyQKAsync(q: Float16ArrayLike, k: Float16ArrayLike, opts: ApplyQKOptionsF16Array): Promise<void>;
  applyQKAsync(q: RopeArray, k: RopeArray, opts: ApplyQKOptions): Promise<void> {
    const plan = this.#acquire();
    try {
      this.#frequencies(plan, planApplyQK(plan, this.#geometry, this.#kOf(plan), q, k, opts, this.#engineChecksOverlap));
      return this.#run(plan);
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

  // The plan engines read synchronously; an async engine packs what it needs before returning.
  #run(plan: CallPlan): Promise<void> {
    if (plan.tokens === 0) return Promise.resolve(); // an empty array: nothing to do
    const engine = this.#engine;
    if (engine.applyAsync !== undefined) return engine.applyAsync(plan);
    engine.apply(plan);
    return Promise.resolve();
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

/** A Rope on a forced engine (parity tests, the benchmark). Throws if native is unavailable. */
export function createRope(options: RopeOptions, engine: 'js' | 'native'): Rope {
  if (engine !== 'js' && engine !== 'native') throw new TypeError(`engine must be 'js' or 'native', got ${describe(engine)}`);
  forcedEngine = engine;
  try {
    return new Rope(options);
  } finally {
    forcedEngine = null;
  }
}
