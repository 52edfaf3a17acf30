// The native engine of one Rope: a NativeRope handle (geometry fixed once, on the C++ side) and one
// reused descriptor, so a decode-sized call allocates nothing and crosses into C++ with six
// arguments (lib/abi.ts). The binding re-checks every bound itself.
import { DESC_LEN, packPlan, type NativeAddon } from './abi.js';
import type { CallPlan, Engine, RopeGeometry } from './types.js';

export type NativeEngine = Engine & { applyAsync(plan: CallPlan): Promise<void> };

export function createNativeEngine(addon: NativeAddon, geometry: RopeGeometry): NativeEngine {
  const handle = new addon.NativeRope(
    geometry.headDim,
    geometry.rotaryDim,
    geometry.style,
    geometry.pairSection,
    geometry.sectionRows,
  );
  const desc = new Float64Array(DESC_LEN);
  return {
    apply(plan: CallPlan): void {
      packPlan(desc, plan);
      handle.apply(plan.q.data, plan.k === null ? null : plan.k.data, plan.positions, plan.invFreq, desc);
    },
    applyAsync(plan: CallPlan): Promise<void> {
      // The shared descriptor is fine: the binding copies desc and invFreq before returning.
      packPlan(desc, plan);
      const k = plan.k === null ? null : plan.k.data;
      try {
        if (handle.applyAsync !== undefined) return handle.applyAsync(plan.q.data, k, plan.positions, plan.invFreq, desc);
        handle.apply(plan.q.data, k, plan.positions, plan.invFreq, desc);
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}
