// Internal entry (dist/internal.js, not in package exports): forced engines and ISA control for
// the parity tests and the benchmark.
export { Rope, createRope } from './rope.js';
export { backendInfo, nativeAddon, selectIsa, supportedIsas } from './backend.js';
export { createJsEngine } from './engine-js.js';
export { createNativeEngine } from './engine-native.js';
export { wasmArray } from './engine-wasm.js';
