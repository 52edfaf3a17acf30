// The built package as a user gets it: `npm run build:ts`, then import 'rope-simd' from ESM and
// require('rope-simd') from CJS in a separate project (exports map, types), and the backend
// environment switches, each in a fresh node process.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendInfo, nativeAddon } from '../../lib/internal.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
let project = ''; // a consumer project whose node_modules/rope-simd links to this repo
let bare = ''; // one with a copy of package.json + dist only: no build/, no prebuilds/

// headDim 4, one head, x = [1, 0, 0, 1] at position 1: pairs (0, 2) at invFreq 1 and (1, 3) at 0.01.
const expected = [Math.cos(1), -Math.sin(0.01), Math.sin(1), Math.cos(0.01)];
const ROTATE = `const r = new Rope({ headDim: 4 }); const x = new Float32Array([1, 0, 0, 1]);
  r.apply(x, { heads: 1, positions: 1 });
  console.log(JSON.stringify({ info: backendInfo, x: Array.from(x) }));`;

interface Run {
  status: number | null;
  out: string;
  err: string;
}

function node(cwd: string, args: string[], env: Record<string, string> = {}): Run {
  const clean = { ...process.env };
  for (const k of ['ROPE_SIMD_BACKEND', 'ROPE_SIMD_ADDON', 'ROPE_SIMD_ISA']) delete clean[k];
  const r = spawnSync(process.execPath, args, { cwd, env: { ...clean, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const esm = (cwd: string, env?: Record<string, string>) =>
  node(cwd, ['--input-type=module', '-e', `import { Rope, backendInfo } from 'rope-simd';\n${ROTATE}`], env);
const cjs = (cwd: string, env?: Record<string, string>) =>
  node(cwd, ['-e', `const { Rope, backendInfo } = require('rope-simd');\n${ROTATE}`], env);

function result(r: Run, stderr = ''): { info: { backend: string; isa: string; reason?: string }; x: number[] } {
  expect(r.err).toBe(stderr);
  expect(r.status).toBe(0);
  return JSON.parse(r.out);
}

beforeAll(() => {
  // (dist/ is built once for the whole run by test/helpers/build-dist.ts)
  project = mkdtempSync(join(tmpdir(), 'rope-entry-'));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(root, join(project, 'node_modules', 'rope-simd'), 'dir');
  bare = mkdtempSync(join(tmpdir(), 'rope-bare-'));
  const pkg = join(bare, 'node_modules', 'rope-simd');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
  symlinkSync(join(root, 'node_modules', 'node-gyp-build'), join(bare, 'node_modules', 'node-gyp-build'), 'dir');
}, 180_000);

afterAll(() => {
  for (const d of [project, bare]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('the built package', () => {
  it.each([
    ['ESM import', esm],
    ['CJS require', cjs],
  ])('%s of rope-simd rotates, on the backend this process also loaded', (_name, run) => {
    // The child gets this process's backend switches, so both must load the same backend.
    const same: Record<string, string> = {};
    for (const k of ['ROPE_SIMD_BACKEND', 'ROPE_SIMD_ADDON', 'ROPE_SIMD_ISA']) if (process.env[k]) same[k] = process.env[k]!;
    const { info, x } = result(run(project, same));
    for (let i = 0; i < 4; i++) expect(Math.abs(x[i] - expected[i])).toBeLessThanOrEqual(1e-7);
    expect(info.backend).toBe(backendInfo.backend);
  });

  it('ships types for both entry points (exports map paths exist and declare Rope and backendInfo)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const cond of ['import', 'require']) {
      const entry = pkg.exports['.'][cond];
      for (const file of [entry.types, entry.default]) expect(existsSync(join(root, file)), file).toBe(true);
      const dts = readFileSync(join(root, entry.types), 'utf8');
      expect(dts).toMatch(/\bRope\b/);
      expect(dts).toMatch(/\bbackendInfo\b/);
    }
    expect(existsSync(join(root, 'dist', 'internal.d.ts'))).toBe(true);
  });

  it('a TypeScript consumer type-checks against the built declarations, ESM (.d.ts) and CJS (.d.cts)', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, types: [], lib: ['ES2022'], skipLibCheck: false },
        files: ['consumer.mts', 'consumer.cts'],
      }),
    );
    const body = (imp: string) => `${imp}
const rope = new Rope({ headDim: 8 });
rope.apply(new Float32Array(8), { heads: 1, positions: 0 });
rope.apply(new Uint16Array(8), { heads: 1, positions: 0, dtype: 'bf16' });
// @ts-expect-error a Uint16Array needs its dtype
rope.apply(new Uint16Array(8), { heads: 1, positions: 0 });
const b: 'native' | 'wasm' | 'js' = backendInfo.backend;
const i: 'wasm-simd128' | 'avx2' | 'js' | 'avx512' | 'neon' | 'scalar' = backendInfo.isa;
export { b, i };
`;
    writeFileSync(join(project, 'consumer.mts'), body("import { Rope, backendInfo } from 'rope-simd';"));
    writeFileSync(join(project, 'consumer.cts'), body("import rs = require('rope-simd');\nconst { Rope, backendInfo } = rs;"));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('dist/internal shares one backend state with the public entry, in ESM and in CJS', () => {
    const e = node(project, [
      '--input-type=module',
      '-e',
      `import * as pub from 'rope-simd'; import * as int from ${JSON.stringify(join(root, 'dist', 'internal.js'))};
       console.log(pub.backendInfo === int.backendInfo && typeof int.createRope === 'function' && pub.Rope === int.Rope);`,
    ]);
    expect(e.out.trim()).toBe('true');
    const c = node(project, [
      '-e',
      `const pub = require('rope-simd'); const int = require(${JSON.stringify(join(root, 'dist', 'internal.cjs'))});
       console.log(pub.backendInfo === int.backendInfo && typeof int.selectIsa === 'function');`,
    ]);
    expect(c.out.trim()).toBe('true');
  });
});

describe('backend selection', () => {
  it('ROPE_SIMD_BACKEND=js forces the JS engine and says so', () => {
    for (const run of [esm, cjs]) {
      const { info, x } = result(run(project, { ROPE_SIMD_BACKEND: 'js' }));
      expect(info).toEqual({ backend: 'js', isa: 'js', reason: 'ROPE_SIMD_BACKEND=js' });
      expect(Math.abs(x[0] - expected[0])).toBeLessThanOrEqual(1e-7);
    }
  });

  it('without any native build the package runs wasm, and warns once (ROPE_SIMD_FALLBACK) naming engine and reason', () => {
    const reason = `no native build for ${process.platform}-${process.arch} (no prebuild, no build/Release)`;
    for (const run of [esm, cjs]) {
      const r = run(bare);
      // One warning, before the result: process.emitWarning's line, with its code.
      const lines = r.err.trim().split('\n').filter((l) => l.includes('ROPE_SIMD_FALLBACK'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('[ROPE_SIMD_FALLBACK] Warning: rope-simd is running the WebAssembly engine');
      expect(lines[0]).toContain(reason);
      const { info, x } = result(r, r.err);
      expect(info).toEqual({ backend: 'wasm', isa: 'wasm-simd128', reason });
      for (let i = 0; i < 4; i++) expect(Math.abs(x[i] - expected[i])).toBeLessThanOrEqual(1e-7);
    }
  });

  it('an explicit ROPE_SIMD_BACKEND silences the warning: wasm, auto, js', () => {
    const wasm = result(esm(bare, { ROPE_SIMD_BACKEND: 'wasm' }));
    expect(wasm.info).toEqual({ backend: 'wasm', isa: 'wasm-simd128', reason: 'ROPE_SIMD_BACKEND=wasm' });
    expect(result(cjs(bare, { ROPE_SIMD_BACKEND: 'auto' })).info.backend).toBe('wasm');
    expect(result(cjs(bare, { ROPE_SIMD_BACKEND: 'js' })).info.backend).toBe('js');
  });

  it('without native and without WebAssembly the package runs JS, and the warning names both reasons', () => {
    const r = node(bare, ['--input-type=module', '-e', `delete globalThis.WebAssembly; const { Rope, backendInfo } = await import('rope-simd');\n${ROTATE}`]);
    expect(r.err).toContain('[ROPE_SIMD_FALLBACK] Warning: rope-simd is running the JavaScript engine');
    const { info } = result(r, r.err);
    expect(info).toEqual({
      backend: 'js',
      isa: 'js',
      reason: `no native build for ${process.platform}-${process.arch} (no prebuild, no build/Release); wasm: this runtime has no WebAssembly`,
    });
  });

  it('ROPE_SIMD_BACKEND=wasm forces the wasm engine even where the addon loads', () => {
    const { info, x } = result(esm(project, { ROPE_SIMD_BACKEND: 'wasm' }));
    expect(info).toEqual({ backend: 'wasm', isa: 'wasm-simd128', reason: 'ROPE_SIMD_BACKEND=wasm' });
    for (let i = 0; i < 4; i++) expect(Math.abs(x[i] - expected[i])).toBeLessThanOrEqual(1e-7);
  });

  it('ROPE_SIMD_BACKEND=native makes a missing addon an import error', () => {
    const r = esm(bare, { ROPE_SIMD_BACKEND: 'native' });
    expect(r.status).not.toBe(0);
    expect(r.err).toContain('ROPE_SIMD_BACKEND=native but the native addon did not load: no native build');
  });

  it('ROPE_SIMD_ADDON naming a missing file, or an unknown ROPE_SIMD_BACKEND, fail at import', () => {
    const missing = esm(project, { ROPE_SIMD_ADDON: '/nonexistent/rope_simd.node' });
    expect(missing.status).not.toBe(0);
    expect(missing.err).toContain('ROPE_SIMD_ADDON=/nonexistent/rope_simd.node');
    const bogus = cjs(project, { ROPE_SIMD_BACKEND: 'gpu' });
    expect(bogus.status).not.toBe(0);
    expect(bogus.err).toContain("ROPE_SIMD_BACKEND must be 'native', 'wasm', 'js', 'auto' or unset, got 'gpu'");
    const isa = cjs(project, { ROPE_SIMD_ISA: 'sse9' });
    expect(isa.status).not.toBe(0);
    expect(isa.err).toContain("ROPE_SIMD_ISA must be one of avx512, avx2, neon, scalar, got 'sse9'");
  });

  it('ROPE_SIMD_ADDON and ROPE_SIMD_ISA pick the file and the kernels (where the addon loads)', () => {
    if (!nativeAddon) {
      // No addon on this machine: forcing an ISA is an import error that says why.
      const r = esm(bare, { ROPE_SIMD_ISA: 'scalar' });
      expect(r.status).not.toBe(0);
      expect(r.err).toContain('ROPE_SIMD_ISA=scalar needs the native addon');
      return;
    }
    const file: string = createRequire(import.meta.url)('node-gyp-build').path(root);
    const viaFile = result(esm(bare, { ROPE_SIMD_ADDON: file, ROPE_SIMD_ISA: 'scalar' }));
    expect(viaFile.info).toEqual({ backend: 'native', isa: 'scalar' });
    for (let i = 0; i < 4; i++) expect(Math.abs(viaFile.x[i] - expected[i])).toBeLessThanOrEqual(1e-7);
    const foreign = process.arch === 'arm64' ? 'avx2' : 'neon';
    const bad = cjs(project, { ROPE_SIMD_ISA: foreign });
    expect(bad.status).not.toBe(0);
    expect(bad.err).toMatch(new RegExp(`Error: ROPE_SIMD_ISA=${foreign}: ISA '${foreign}' is not (compiled into this build|supported)`));
    // selectIsa keeps backendInfo live
    const live = node(project, [
      '-e',
      `const int = require(${JSON.stringify(join(root, 'dist', 'internal.cjs'))});
       const isas = int.supportedIsas(); int.selectIsa('scalar'); const a = int.backendInfo.isa;
       int.selectIsa(isas[0]); console.log(JSON.stringify([a, int.backendInfo.isa, isas[0]]));`,
    ]);
    const [afterScalar, afterBest, best] = JSON.parse(live.out);
    expect(afterScalar).toBe('scalar');
    expect(afterBest).toBe(best);
  });
});
