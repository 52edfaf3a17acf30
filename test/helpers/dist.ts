// (vitest's globalSetup, build-dist.ts, builds dist/ once per run; this covers a file run alone
// after lib/ changed.) Examples import 'rope-simd' as a user would; run as child processes, that resolves (the package
// referencing itself by name) to dist/. Rebuild dist/ when lib/ is newer, one test file at a time:
// tsup cleans dist/ first, so two concurrent builds would leave a half-written package.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function newest(dir: string): number {
  return Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
}

function fresh(): boolean {
  const target = join(root, 'dist', 'index.js');
  return existsSync(target) && statSync(target).mtimeMs >= newest(join(root, 'lib'));
}

const sleep = (ms: number): void => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) as unknown as void;

export function ensureDist(): void {
  if (fresh()) return;
  const lock = join(root, 'node_modules', '.rope-simd-dist.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // a lock left by a killed run goes stale after two minutes
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
      if (since !== undefined && Date.now() - since > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited 3 min for ${lock} (another test building dist/)`);
      sleep(200);
    }
  }
  try {
    if (fresh()) return; // another test file built it while we waited
    const r = spawnSync('npm', ['run', '--silent', 'build:ts'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`npm run build:ts failed: ${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
