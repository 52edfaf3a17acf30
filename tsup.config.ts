import { defineConfig } from 'tsup';

// One source tree, two entry points: dist/index.js (ESM) and dist/index.cjs (CJS), each with types.
export default defineConfig({
  entry: { index: 'lib/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  shims: true, // import.meta.url in CJS, __dirname in ESM: backend.ts locates the package root either way
  target: 'node18',
  platform: 'node',
  sourcemap: false,
  external: ['node-gyp-build'],
});
