// Child processes for tests whose failure could take the process down (a native write past a
// buffer's end, an abort): the child runs the attack and prints its findings; the test asserts the
// exit status, the signal and the output, so a crash fails the test that caused it instead of
// killing the vitest worker without a name.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { addonPath } from './addon.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface ChildDir {
  dir: string;
  /** lib/ as one ES module (Rope, createRope, nativeAddon, ...), built once per ChildDir. */
  lib(): string;
  /** Runs code (an ES module) with node; ROPE_SIMD_ADDON names the addon the tests load. */
  run(code: string, env?: Record<string, string>): SpawnSyncReturns<string>;
  remove(): void;
}

export function childDir(prefix: string): ChildDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let bundle: string | undefined;
  let n = 0;
  return {
    dir,
    lib() {
      if (bundle !== undefined) return bundle;
      bundle = join(dir, 'rope-simd.mjs');
      buildSync({
        stdin: { contents: "export * from './lib/internal.ts'; export * from './lib/index.ts';", resolveDir: root, loader: 'ts' },
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: bundle,
        external: ['node-gyp-build'],
        logLevel: 'silent',
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      });
      return bundle;
    },
    run(code, env = {}) {
      const file = join(dir, `child-${n++}.mjs`);
      writeFileSync(file, code);
      return spawnSync(process.execPath, [file], {
        env: { ...process.env, ROPE_SIMD_ADDON: addonPath(), NODE_PATH: join(root, 'node_modules'), ...env },
        encoding: 'utf8',
        timeout: 60_000,
      });
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
