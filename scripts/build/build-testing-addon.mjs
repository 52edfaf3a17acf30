#!/usr/bin/env node
// Builds the testing addon, test/native/addon/build/Release/rope_simd_testing.node: the production
// addon's exports plus the hooks tests and the bench use (native/binding/testing.cc), which the
// published addon does not export. node-gyp with test/native/addon/binding.gyp: configured once,
// then `make` rebuilds only what changed (a second run with nothing changed takes a second or two);
// configured again when native/sources.json's "testing" list changes.
// Prints the .node path; exits non-zero, saying why, when it cannot build (no compiler: the tests
// that need the hooks then fail naming this script, the bench runs without its limit rows).
// Usage: node scripts/build/build-testing-addon.mjs [--quiet]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, 'test', 'native', 'addon');
export const testingAddonPath = join(dir, 'build', 'Release', 'rope_simd_testing.node');

export function buildTestingAddon({ quiet = false } = {}) {
  const { findNodeGyp } = createRequire(import.meta.url)(join(root, 'scripts', 'install.cjs'));
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) return { error: 'node-gyp not found (npm ci installs it)' };
  const args = [];
  // Node's own headers when installed with it (as scripts/install.cjs), not a download.
  const prefix = dirname(dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) args.push(`--nodedir=${prefix}`);
  const run = (cmd, extra = []) => spawnSync(process.execPath, [nodeGyp, cmd, ...extra, ...args], { cwd: dir, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit' });
  // Configured again when the source list changed (gyp expands it at configure time only).
  const { sources } = createRequire(import.meta.url)(join(root, 'native', 'sources.cjs'));
  const list = sources('testing').join('\n');
  const stamp = join(dir, 'build', 'sources.txt');
  let configured = '';
  try {
    configured = readFileSync(stamp, 'utf8');
  } catch {}
  if (configured !== list) {
    const c = run('configure');
    if (c.status !== 0) return { error: `node-gyp configure failed in test/native/addon${quiet ? `:\n${c.stdout}${c.stderr}` : ''}` };
    writeFileSync(stamp, list);
  }
  const b = run('build', ['--jobs', 'max']); // (every core: a fresh build compiles every kernel)
  if (b.status !== 0) return { error: `node-gyp build failed in test/native/addon${quiet ? `:\n${(b.stdout + b.stderr).slice(-3000)}` : ''}` };
  return { path: testingAddonPath };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = buildTestingAddon({ quiet: process.argv.includes('--quiet') });
  if (r.error) {
    console.error(`build-testing-addon: ${r.error}`);
    process.exit(1);
  }
  console.log(r.path);
}
