import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // examples/ import 'rope-simd' as a user would; under vitest that is the TypeScript source.
  resolve: { alias: { 'rope-simd': fileURLToPath(new URL('./lib/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    // Type-level tests (test/package/types.test-d.ts) are compiled by `tsc --noEmit` (npm test's `types`
    // stage), not by vitest's experimental typecheck mode.
    globalSetup: ['test/helpers/build-dist.ts'],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
