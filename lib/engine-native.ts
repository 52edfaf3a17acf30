// The native engine of one Rope: a NativeRope handle (geometry fixed once, on the C++ side) and one
// reused descriptor, so a decode-sized call allocates nothing and crosses into C++ with six
// arguments (lib/abi.ts). The binding re-checks every bound itself.
import { DESC_CACHE_LEN, DESC_LEN, packCache, packPlan, type NativeAddon, type NativeRopeHandle } from './abi.js';
import type { StepFn } from './step.js';
import { DTYPE_F32, type CallPlan, type Engine, type RopeGeometry } from './types.js';
import { typedArrayTag } from './typed-array.js';

export type NativeEngine = Engine & {
  applyAsync(plan: CallPlan): Promise<void>;
  /** The binding's fast call for one prepared configuration (lib/step.ts), or null when the
   * binding has none (an older build) or no slot is left. */
  prepareStep(invFreq: Float64Array, attentionScaling: number, qDtype: number, qHeads: number, kDtype: number, kHeads: number, threads: number, inverse: boolean): StepFn | null;
};

// handle.desc (native/binding/own_desc.h): the handle's own Float64Array(DESC_LEN + rotaryDim/2), a
// descriptor followed by invFreq. Passed as desc, with invFreq null (read from its tail), it spares
// the binding two typed-array inspections per call, and an invFreq equal to one the binding has
// cached is neither copied nor re-checked: together the largest fixed costs of a decode call.
// Absent where the runtime refuses external ArrayBuffers (Electron; native/binding/own_desc.cc OwnDesc::make);
// then a private descriptor and plan.invFreq travel as before.
type HandleWithDesc = NativeRopeHandle & {
  readonly desc?: Float64Array;
  apply(q: Float32Array | Uint16Array, k: Float32Array | Uint16Array | null, positions: Int32Array | null, invFreq: Float64Array | null, desc: Float64Array): void;
  applyAsync?(q: Float32Array | Uint16Array, k: Float32Array | Uint16Array | null, positions: Int32Array | null, invFreq: Float64Array | null, desc: Float64Array): Promise<void>;
  /** The binding's step(q, k, positions) -> boolean for this configuration, or null (no slot left). */
  prepareStep?(invFreq: Float64Array, attentionScaling: number, qDtype: number, qHeads: number, kDtype: number, kHeads: number, threads: number, inverse: number): StepFn | null;
};

// The binding's first parameter is q (apply(q, k, ...)); a facade apply(x, ...) call passes x there
// with k null, so a refusal the binding finds (the facade checks first: rarely reached) names x.
function namingX(e: unknown): unknown {
  if (e instanceof Error && /^q\b/.test(e.message)) e.message = 'x' + e.message.slice(1);
  return e;
}

export function createNativeEngine(addon: NativeAddon, geometry: RopeGeometry): NativeEngine {
  const handle: HandleWithDesc = new addon.NativeRope(
    geometry.headDim,
    geometry.rotaryDim,
    geometry.style,
    geometry.pairSection,
    geometry.sectionRows,
  );
  const own = handle.desc instanceof Float64Array && handle.desc.length === DESC_LEN + geometry.rotaryDim / 2 ? handle.desc : null;
  const privateDesc = new Float64Array(DESC_LEN);
  // plan.invFreq arrays are never modified once made (lib/scaling.ts makes a new one per change),
  // so identity says whether own's tail already holds this one.
  let ownInvFreq: Float64Array | null = null;
  let invFreq: Float64Array | null = null; // set by pack, with the descriptor it returns
  // Packs plan; returns the descriptor to pass and sets invFreq (null: own's tail, or plan.invFreq).
  const pack = (plan: CallPlan): Float64Array => {
    if (own === null || own.length === 0) {
      // (length 0: someone detached handle.desc's buffer; fall back to the plain arguments)
      packPlan(privateDesc, plan);
      invFreq = plan.invFreq;
      return privateDesc;
    }
    packPlan(own, plan);
    if (plan.invFreq !== ownInvFreq) {
      own.set(plan.invFreq, DESC_LEN);
      ownInvFreq = plan.invFreq;
    }
    invFreq = null;
    return own;
  };
  const cdesc = new Float64Array(DESC_CACHE_LEN);
  const applyCache = typeof handle.applyCache === 'function'
    ? (plan: CallPlan): void => {
        const c = plan.cache!;
        const desc = pack(plan);
        packCache(cdesc, plan, c.headStride !== geometry.headDim);
        // (async slices pass a window of the plan's slots copy)
        const slots = c.slots === null ? null : c.slotsAt === 0 && c.slots.length === plan.tokens ? c.slots : c.slots.subarray(c.slotsAt, c.slotsAt + plan.tokens);
        handle.applyCache!(plan.q.data, plan.k!.data, plan.positions, invFreq, desc, c.v === null ? null : c.v.data, c.kData, c.vData, slots, cdesc);
      }
    : undefined;
  return {
    applyCache,
    apply(plan: CallPlan): void {
      const desc = pack(plan);
      if (plan.k !== null) {
        handle.apply(plan.q.data, plan.k.data, plan.positions, invFreq, desc);
        return;
      }
      try {
        handle.apply(plan.q.data, null, plan.positions, invFreq, desc);
      } catch (e) {
        throw namingX(e);
      }
    },
    applyAsync(plan: CallPlan): Promise<void> {
      // Called for SharedArrayBuffer memory only (lib/rope.ts #run): the walk runs on it in place,
      // off the JS thread. The shared descriptor is fine: the binding copies desc and invFreq
      // before returning.
      const desc = pack(plan);
      const k = plan.k === null ? null : plan.k.data;
      try {
        if (handle.applyAsync !== undefined) return handle.applyAsync(plan.q.data, k, plan.positions, invFreq, desc);
        handle.apply(plan.q.data, k, plan.positions, invFreq, desc);
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(k === null ? namingX(e) : e);
      }
    },
    prepareStep(invFreq, attentionScaling, qDtype, qHeads, kDtype, kHeads, threads, inverse): StepFn | null {
      if (typeof handle.prepareStep !== 'function') return null;
      const step = handle.prepareStep(invFreq, attentionScaling, qDtype, qHeads, kDtype, kHeads, threads, inverse ? 1 : 0);
      if (typeof step !== 'function') return null;
      const site = nextSite++ % STEP_SITES;
      // The arrays' kinds are tested here: the binding's step proves memory by bytes (whole
      // aligned elements, native/binding/args.h bytesView) and skips Node-API's type query.
      const qKind = kindOf(qDtype), kKind = kindOf(kDtype);
      const fn: StepFn = (q, k, positions) =>
        typedArrayTag(q) === qKind && typedArrayTag(k) === kKind && isPositions(positions) && callStepAt(site, step, q, k, positions);
      // (an addon built before the step took a cache would ignore the cache's arguments)
      if ((step as { takesCache?: unknown }).takesCache === true) {
        fn.cache = (q, k, positions, v, kc, vc, slots, code) => {
          const cKind = kindOf(code & 3);
          return typedArrayTag(q) === qKind && typedArrayTag(k) === kKind && isPositions(positions) &&
            (v === undefined ? vc === undefined : typedArrayTag(v) === kKind && typedArrayTag(vc) === cKind) &&
            typedArrayTag(kc) === cKind && isPositions(slots) &&
            callCacheStepAt(site, step as unknown as CacheStepFn, q, k, positions, v, kc, vc, slots, code);
        };
      }
      return fn;
    },
  };
}

// The typed array kind of a dtype code's arrays (f16 and bf16 as Uint16Array bits).
const kindOf = (dtype: number): string => (dtype === DTYPE_F32 ? 'Float32Array' : 'Uint16Array');
// A step's positions or slots: a number, or an Int32Array (the binding checks the values).
const isPositions = (p: unknown): boolean => typeof p === 'number' || typedArrayTag(p) === 'Int32Array';

// V8 calls a native function at full speed (its fast API call) only from a call site that has
// seen that one function; a site that has seen two goes through the generic API call, ~40 ns more
// per decode call (measured, S1: one step 444 ns, two alternating at one site 484-487 ns). The
// facade's decode path has one such site, which sees every step: threads 1 and 'auto' in one
// program, or the two Ropes of a model with local and global layers. So each step gets one of the
// call sites below, in turn: up to STEP_SITES steps keep one to themselves (two alternating steps,
// each at its site: 451-458 ns), and more share them (correct, at the generic call's cost).
// (A single native function taking the step's id costs the common one-step case ~20 ns per call.)
const STEP_SITES = 8;
let nextSite = 0;
function callStepAt(site: number, f: StepFn, q: unknown, k: unknown, p: unknown): boolean {
  switch (site) {
    case 0: return f(q, k, p);
    case 1: return f(q, k, p);
    case 2: return f(q, k, p);
    case 3: return f(q, k, p);
    case 4: return f(q, k, p);
    case 5: return f(q, k, p);
    case 6: return f(q, k, p);
    default: return f(q, k, p);
  }
}

// The step with a cache write, from its own call sites (as above).
type CacheStepFn = (q: unknown, k: unknown, p: unknown, v: unknown, kc: unknown, vc: unknown, s: unknown, code: number) => boolean;
function callCacheStepAt(site: number, f: CacheStepFn, q: unknown, k: unknown, p: unknown, v: unknown, kc: unknown, vc: unknown, s: unknown, code: number): boolean {
  switch (site) {
    case 0: return f(q, k, p, v, kc, vc, s, code);
    case 1: return f(q, k, p, v, kc, vc, s, code);
    case 2: return f(q, k, p, v, kc, vc, s, code);
    case 3: return f(q, k, p, v, kc, vc, s, code);
    case 4: return f(q, k, p, v, kc, vc, s, code);
    case 5: return f(q, k, p, v, kc, vc, s, code);
    case 6: return f(q, k, p, v, kc, vc, s, code);
    default: return f(q, k, p, v, kc, vc, s, code);
  }
}
