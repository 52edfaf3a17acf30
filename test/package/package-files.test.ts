// What `npm pack` publishes: exactly what a consumer needs (dist's public entry, prebuilds, the native
// sources and build files for a source build, the install script, LICENSE, README) and a package.json
// with no install-time script but our own install step. `npm pack --dry-run --json` runs on a copy of
// the tracked tree made of empty files (fast, and no race with tests that rebuild dist/), with dist/
// holding the names tsup writes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const { sourceFiles } = require('../../scripts/install.cjs') as { sourceFiles: (dir?: string) => string[] };

// tsup's output (tsup.config.ts): two entries, split chunks, types per format.
const DIST = ['browser.js', 'index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'internal.js', 'internal.cjs', 'internal.d.ts',
  'internal.d.cts', 'chunk-ABCD1234.js', 'chunk-ABCD1234.cjs', 'index-AbCd12-_.d.ts', 'index-AbCd12-_.d.cts'];

// Every file the package may publish matches one of these; anything else is a leak.
const ALLOWED = [
  /^package\.json$/, /^README\.md$/, /^LICENSE$/, /^binding\.gyp$/, /^CMakeLists\.txt$/, /^scripts\/install\.cjs$/,
  /^dist\/(index|chunk-[^/]+|index-[^/]+)\.(js|cjs|d\.ts|d\.cts)$/, /^dist\/browser\.js$/,
  /^prebuilds\/manifest\.json$/, /^prebuilds\/[a-z0-9]+-[a-z0-9]+\/[^/]+\.node$/,
  /^prebuilds\/wasm\/[^/]+\.wasm$/, // the WebAssembly engine's module, where the package ships it as a file
  /^native\/.+\.(cc|h|def)$/, /^native\/sources\.(json|cjs|cmake)$/,
  /^docs\/benchmark\.svg$/, // the README's chart, so its image resolves in the published package
];

let tree = '';
let files: string[] = [];
let pkg: Record<string, any> = {};

beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), 'rope-simd-pack-'));
  const tracked = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0').filter((f) => f && !f.startsWith('dist/'));
  for (const f of tracked) {
    mkdirSync(dirname(join(tree, f)), { recursive: true });
    // package.json must be the real one; the rest only need to exist.
    writeFileSync(join(tree, f), f === 'package.json' ? readFileSync(join(root, f)) : '');
  }
  mkdirSync(join(tree, 'dist'));
  for (const f of DIST) writeFileSync(join(tree, 'dist', f), '');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: tree, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  files = JSON.parse(out)[0].files.map((f: { path: string }) => f.path).sort();
  pkg = JSON.parse(readFileSync(join(tree, 'package.json'), 'utf8'));
}, 60_000);

afterAll(() => {
  if (tree) rmSync(tree, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('publishes nothing a consumer does not need', () => {
    const leaks = files.filter((f) => !ALLOWED.some((re) => re.test(f)));
    expect(leaks).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/internal'))).toEqual([]); // not in package exports
  });

  it('publishes the public entry, LICENSE, README and what a source build needs', () => {
    for (const f of ['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'CMakeLists.txt', 'scripts/install.cjs',
      'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/chunk-ABCD1234.js', 'dist/chunk-ABCD1234.cjs',
      'dist/index-AbCd12-_.d.ts', 'dist/index-AbCd12-_.d.cts', 'prebuilds/manifest.json']) {
      expect(files).toContain(f);
    }
    // Every file the source hash covers (the build's inputs) ships, so a source build can happen.
    for (const f of sourceFiles(root)) expect(files).toContain(f);
  });

  it('publishes every committed prebuild', () => {
    const committed = execFileSync('git', ['ls-files', '-co', '--exclude-standard', 'prebuilds'], { cwd: root, encoding: 'utf8' })
      .split('\n').filter((f) => f && f !== 'prebuilds/wasm/manifest.json').sort(); // (the wasm build's record: maintainers only)
    expect(files.filter((f) => f.startsWith('prebuilds/'))).toEqual(committed);
  });
});

describe('the published package.json', () => {
  it('runs nothing at install time but its own install step', () => {
    // npm runs these for a registry install (npm 11 also lists prepare in its install-scripts warning).
    for (const s of ['preinstall', 'postinstall', 'prepare']) expect(pkg.scripts?.[s]).toBeUndefined();
    expect(pkg.scripts.install).toBe('node scripts/install.cjs');
    expect(pkg.dependencies['node-addon-api']).toBeDefined(); // a source build's headers
  });

  it('has the metadata the registry page shows', () => {
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository?.url).toMatch(/^git\+https:\/\/github\.com\/.+\.git$/);
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.bugs?.url).toMatch(/^https:\/\//);
    expect(pkg.keywords).toEqual(expect.arrayContaining(['rope', 'napi']));
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} rope-simd contributors/);
  });
});
