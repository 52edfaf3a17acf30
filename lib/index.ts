// Public entry: the Rope class, which backend runs, and the option types.
export { Rope } from './rope.js';
export { backendInfo } from './backend.js';
export { wasmArray, type WasmArray } from './engine-wasm.js';
export { RopeStep, type PrepareOptions } from './step.js';
export type { GgufRopeTensors } from './models/gguf.js';
export type { FromConfigOptions, GGUFMetadata, HFConfig, HFRopeParameters } from './models/config-types.js';
export type {
  ApplyOptions,
  ApplyOptions16,
  ApplyOptionsBase,
  ApplyOptionsF16Array,
  ApplyOptionsF32,
  ApplyQKOptions,
  ApplyQKOptions16,
  ApplyQKOptionsBase,
  ApplyQKOptionsF16Array,
  ApplyQKOptionsF32,
  AsyncOptions,
  AbortSignalLike,
  AnyCacheOptions,
  CacheCallOptions,
  CacheLayout,
  CacheOptions,
  BackendInfo,
  DTypeName,
  DTypeOption,
  Float16ArrayLike,
  Layout,
  Positions,
  RopeOptions,
  RopeArray,
  SameKind,
  RopeStyle,
  ScalingOptions,
  Threads,
} from './types.js';
