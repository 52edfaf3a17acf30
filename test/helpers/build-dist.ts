// vitest globalSetup: build dist/ (and the testing addon) once before any test file runs (test
// files run in parallel, and two builds at once would delete each other's output). dist/ is not
// built again when it was made from the same sources (a hash kept under node_modules/.cache), as
// in npm test's second and third vitest stages.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const INPUTS = ['lib', 'tsup.config.ts', 'tsconfig.json', 'package.json', 'scripts/build/strip-dts-private.mjs', 'scripts/gen/gen-isas.mjs', 'native/kernels/isas.def'];

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((name) => files(join(path, name)));
}

export function sourcesHash(root: string): string {
  const h = createHash('sha256');
  for (const input of INPUTS) for (const f of files(join(root, input))) h.update(f.slice(root.length)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

export default async function setup(): Promise<void> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const stamp = join(root, 'node_modules', '.cache', 'rope-simd-dist.sha256');
  const hash = sourcesHash(root);
  if (!(existsSync(stamp) && readFileSync(stamp, 'utf8') === hash && existsSync(join(root, 'dist', 'index.js')))) {
    execFileSync('npm', ['run', '--silent', 'build:ts'], { cwd: root, stdio: 'pipe' });
    mkdirSync(dirname(stamp), { recursive: true });
    writeFileSync(stamp, hash);
  }
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
