// backend.ts for browser bundles (the package's "browser" export, dist/browser.js): no addon to
// load, no process.env; the wasm engine (inline bytes, compiled synchronously at import: the module
// is ~35 KB, far under browsers' limit for synchronous compiles), else the JS engine.
import type { NativeAddon } from './abi.js';
import { wasmExports } from './engine-wasm.js';
import type { BackendInfo } from './types.js';

function loadWasm(): string | null {
  try {
    wasmExports();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
const wasmError = loadWasm();

/** Never an addon in a browser. */
export const nativeAddon: NativeAddon | null = null;
export const wasmDefault: boolean = wasmError === null;
/** Cores (the browser's guess): only the native engine, absent here, reads it. */
export const hardwareThreads: number = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
export const backendInfo: BackendInfo =
  wasmError === null
    ? { backend: 'wasm', isa: 'wasm-simd128', reason: 'a browser has no native addon' }
    : { backend: 'js', isa: 'js', reason: `a browser has no native addon; wasm: ${wasmError}` };

export function supportedIsas(): string[] {
  return [];
}

export function selectIsa(name: string): void {
  throw new Error(`selectIsa('${name}') needs the native addon, which a browser does not have`);
}
