// The addon file these tests load directly (also under ROPE_SIMD_BACKEND=js, which only stops the
// facade from loading it): ROPE_SIMD_ADDON when CI names a build, else what node-gyp-build picks
// for this package (build/Release first, then the prebuild), exactly as lib/backend.ts does.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const requireHere = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../..', import.meta.url));

export function addonPath(): string {
  if (process.env.ROPE_SIMD_ADDON) return resolve(process.env.ROPE_SIMD_ADDON);
  const nodeGypBuild = requireHere('node-gyp-build') as { path(dir: string): string };
  return nodeGypBuild.path(root);
}

export function loadAddon<T>(): T {
  return requireHere(addonPath()) as T;
}

/** The testing addon's extra exports (native/binding/testing.cc). */
export interface TestingHooks {
  limitPass(a: Float32Array | Uint16Array, dtype: number, factor: number, threads?: number): void;
  limitPassQK(q: Float32Array | Uint16Array, k: Float32Array | Uint16Array, dtype: number, factor: number, threads?: number, tokens?: number): void;
  /** Reads its arguments as a prepared step does (mask bit i: argument i + 1 is a typed array), nothing else. */
  readArgs(mask: number, ...args: unknown[]): boolean;
  /** readArgs's reads of (v, cache, at, dtype), then v converted into cache from element at; false: nothing written. */
  convertInto(mask: number, v: Float32Array, cache: ArrayBufferView, at: number, dtype: number): boolean;
  /** Whether applyAsync rotates this array in place (SharedArrayBuffer memory). */
  runsInPlace(array: ArrayBufferView): boolean;
  /** Helper threads the native pool has created so far. */
  poolThreads(): number;
}

// The testing addon: the addon's exports plus the hooks (test/native/addon), built from the same
// sources by vitest's global setup (test/helpers/build-dist.ts); ROPE_SIMD_TESTING_ADDON names
// another file.
export const testingAddonFile = process.env.ROPE_SIMD_TESTING_ADDON
  ? resolve(process.env.ROPE_SIMD_TESTING_ADDON)
  : resolve(root, 'test/native/addon/build/Release/rope_simd_testing.node');

export function loadTestingAddon<T>(): T & TestingHooks {
  if (!existsSync(testingAddonFile)) {
    let why = '';
    try {
      why = readFileSync(resolve(root, 'test/native/addon/build/error.txt'), 'utf8');
    } catch {}
    throw new Error(`the testing addon ${testingAddonFile} is not built (npm run build:testing)${why ? `: ${why}` : ''}`);
  }
  return requireHere(testingAddonFile) as T & TestingHooks;
}
