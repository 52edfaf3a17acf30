import { defineConfig } from 'tsup';

// One source tree, two formats: dist/index.js (ESM) and dist/index.cjs (CJS), each with types. A
// second entry, dist/internal.{js,cjs} (not in package exports), serves the benchmark and parity
// tests; splitting (in both formats) puts the shared modules in one chunk so that both entries see
// the same backend state (one backendInfo, one selectIsa).
export default defineConfig({
  entry: { index: 'lib/index.ts', internal: 'lib/internal.ts' },
  splitting: true,
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  shims: true, // import.meta.url in CJS, __dirname in ESM: backend.ts locates the package root either way
  target: 'node18',
  platform: 'node',
  sourcemap: false,
  external: ['node-gyp-build'],
  // Classes keep their names (esbuild would rename Rope to _Rope: `Rope()` without new said so).
  keepNames: true,
});
