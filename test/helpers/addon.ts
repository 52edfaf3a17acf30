// The addon file these tests load directly (also under ROPE_SIMD_BACKEND=js, which only stops the
// facade from loading it): ROPE_SIMD_ADDON when CI names a build, else what node-gyp-build picks
// for this package (build/Release first, then the prebuild), exactly as lib/backend.ts does.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
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
