// vitest globalSetup: build dist/ (and the testing addon) once before any test file runs (test files run in parallel, and
// two builds at once would delete each other's output).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export default async function setup(): Promise<void> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  execFileSync('npm', ['run', '--silent', 'build:ts'], { cwd: root, stdio: 'pipe' });
  // The testing addon (test/native/addon: the hooks the production addon does not export), brought
  // up to date once here; a build failure is left for the tests that load it to report.
  if (process.env.ROPE_SIMD_TESTING_ADDON) return;
  const { buildTestingAddon } = await import(pathToFileURL(join(root, 'scripts', 'build', 'build-testing-addon.mjs')).href);
  const r = buildTestingAddon({ quiet: true });
  const errorFile = join(root, 'test', 'native', 'addon', 'build', 'error.txt');
  rmSync(errorFile, { force: true });
  if (r.error) {
    mkdirSync(dirname(errorFile), { recursive: true });
    writeFileSync(errorFile, r.error);
  }
}
