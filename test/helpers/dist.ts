// Examples import 'rope-simd' as a user would; run as child processes, that resolves (the package
// referencing itself by name) to dist/. vitest's globalSetup (build-dist.ts) builds dist/ once
// before any test file runs, also when one file runs alone, so this only checks it is there.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function ensureDist(): void {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    throw new Error('dist/ is missing: vitest.config.ts globalSetup (test/helpers/build-dist.ts) should have built it');
  }
}
