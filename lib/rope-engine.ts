// The engine a Rope walks with: the forced one or the best loaded (native -> wasm -> js), seen
// through a view that shifts each head to its rotated slice for rotarySlice 'trailing'.
import { nativeAddon, backendInfo, wasmDefault } from './backend.js';
import { createJsEngine } from './engine-js.js';
import { createNativeEngine } from './engine-native.js';
import { createWasmEngine } from './engine-wasm.js';
import type { SliceEngine } from './async.js';
import type { StepFn } from './step.js';
import { DTYPE_F32, type CallPlan, type Engine, type RopeGeometry } from './types.js';

export type AsyncEngine = Engine & {
  applyAsync?(plan: CallPlan): Promise<void>;
  prepareStep?(invFreq: Float64Array, attentionScaling: number, qDtype: number, qHeads: number, kDtype: number, kHeads: number, threads: number, inverse: boolean): StepFn | null;
};

export function rotatedBytes(plan: CallPlan, rotaryDim: number): number {
  const size = (dtype: number): number => (dtype === DTYPE_F32 ? 4 : 2);
  const row = plan.q.heads * size(plan.q.dtype) + (plan.k === null ? 0 : plan.k.heads * size(plan.k.dtype));
  return row * rotaryDim * plan.tokens * plan.batch;
}

/** The engine rotating each head's trailing slice: q and k start rotaryOffset values further on for
 * the inner engine (which was built for heads of rotaryDim values), restored once it has read the
 * plan (the native addon copies its descriptor before applyAsync returns). No prepared steps: those
 * take whole heads from the start. */
export function trailingView(inner: AsyncEngine, rotaryOffset: number): AsyncEngine {
  const shifted = <T>(plan: CallPlan, run: () => T): T => {
    const q = plan.q;
    const k = plan.k;
    q.offset += rotaryOffset;
    if (k !== null) k.offset += rotaryOffset;
    try {
      return run();
    } finally {
      q.offset -= rotaryOffset;
      if (k !== null) k.offset -= rotaryOffset;
    }
  };
  const view: AsyncEngine & Pick<SliceEngine, 'ownsMemory' | 'rebind'> = {
    apply: (plan) => shifted(plan, () => inner.apply(plan)),
  };
  if (inner.applyAsync !== undefined) view.applyAsync = (plan) => shifted(plan, () => inner.applyAsync!(plan));
  const mem = inner as Pick<SliceEngine, 'ownsMemory' | 'rebind'>;
  if (mem.ownsMemory !== undefined) {
    view.ownsMemory = (d) => mem.ownsMemory!(d);
    view.rebind = (d, at, n) => mem.rebind!(d, at, n);
  }
  return view;
}

export type EngineName = 'js' | 'native' | 'wasm';

/** The engine for a Rope: the forced one, else native -> wasm -> js (lib/backend.ts loaded them). */
export function createEngine(geometry: RopeGeometry, forced: EngineName | null): { engine: AsyncEngine; name: EngineName } {
  const name = forced ?? (nativeAddon ? 'native' : wasmDefault ? 'wasm' : 'js');
  if (name === 'native') {
    if (!nativeAddon) throw new Error(`the native engine is not available: ${backendInfo.reason ?? 'not loaded'}`);
    return { engine: createNativeEngine(nativeAddon, geometry), name };
  }
  return { engine: name === 'wasm' ? createWasmEngine(geometry) : createJsEngine(geometry), name };
}
