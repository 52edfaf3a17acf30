import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Test files that name every engine they test (createRope(options, 'js' | 'wasm' | 'native'), or the
// addon itself) and never use the default one. The native stage of `npm test` runs them on every
// engine; the js and wasm stages (ROPE_SIMD_DEFAULT_ENGINE_ONLY=1) exist to run the rest of the
// suite with the default engine forced, so they skip these instead of repeating them.
// test/unit/test-stages.test.ts checks that each file named here keeps to that.
export const ENGINE_NAMED_FILES = [
  'async-slices', 'async-teardown', 'bench-stats', 'boundaries', 'contracts', 'cossin', 'dtype',
  'edge-values', 'engine-js', 'engine-js-rows', 'engine-wasm', 'exact-angles', 'hostile',
  'kv-cache', 'kv-cache-refusals', 'kv-cache-step', 'native-attacks', 'native-binding', 'native-cache',
  'native-kv-binding', 'overlap', 'package-files', 'parity', 'readme-example', 'readme-snippets',
  'registry', 'rope-options', 'rotary-slice', 'runtime-uniform', 'scaling', 'threads-auto',
  'types-dts', 'wasm-array', 'wasm-kernels',
];

const defaultEngineOnly = process.env.ROPE_SIMD_DEFAULT_ENGINE_ONLY === '1';

export default defineConfig({
  // examples/ import 'rope-simd' as a user would; under vitest that is the TypeScript source.
  resolve: { alias: { 'rope-simd': fileURLToPath(new URL('./lib/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(defaultEngineOnly ? ENGINE_NAMED_FILES.map((f) => `test/**/${f}.test.ts`) : [])],
    // Type-level tests (test/package/types.test-d.ts) are compiled by `tsc --noEmit` (npm test's `types`
    // stage), not by vitest's experimental typecheck mode.
    globalSetup: ['test/helpers/build-dist.ts'],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
