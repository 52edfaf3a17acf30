// vitest globalSetup: build dist/ once before any test file runs (test files run in parallel, and
// two builds at once would delete each other's output). The build is skipped when dist/ was made
// from the same sources (a hash kept under node_modules/.cache), as in npm test's second and third
// vitest stages.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const INPUTS = ['lib', 'tsup.config.ts', 'tsconfig.json', 'package.json', 'scripts/strip-dts-private.mjs'];

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

export default function setup(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const stamp = join(root, 'node_modules', '.cache', 'rope-simd-dist.sha256');
  const hash = sourcesHash(root);
  const built = existsSync(stamp) && readFileSync(stamp, 'utf8') === hash && existsSync(join(root, 'dist', 'index.js'));
  if (built) return;
  execFileSync('npm', ['run', '--silent', 'build:ts'], { cwd: root, stdio: 'pipe' });
  mkdirSync(dirname(stamp), { recursive: true });
  writeFileSync(stamp, hash);
}
