// The published declarations as a TypeScript user meets them: dist/*.d.ts compiled, without
// skipLibCheck, by TypeScript 5.x and 7 under several settings (including no tsconfig at all), and
// each common mistake reported by one error that names the mistake (not an unrelated overload).
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPILERS = [
  ['TypeScript 5', join(root, 'node_modules', 'typescript', 'bin', 'tsc')],
  ['TypeScript 7', join(root, 'node_modules', 'typescript7', 'bin', 'tsc')],
] as const;
// No tsconfig (each compiler's defaults: TS 5 targets ES5 with lib es5), a strict Node project,
// and a bundler project.
const SETTINGS: Record<string, string[]> = {
  defaults: [],
  'strict nodenext': ['--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext'],
  'strict bundler': ['--strict', '--target', 'es2020', '--module', 'esnext', '--moduleResolution', 'bundler'],
};

const HEAD = `import { Rope } from 'rope-simd';
const rope = new Rope({ headDim: 8 });
const q = new Float32Array(16);
const k = new Float32Array(8);
`;
const VALID = `import { Rope, backendInfo, type ApplyOptions, type ApplyQKOptions, type HFConfig } from 'rope-simd';
const rope = new Rope({ headDim: 8 });
const q = new Float32Array(16);
const k = new Float32Array(8);
const opts: ApplyQKOptions = { qHeads: 2, kHeads: 1, positions: 0 };
rope.applyQK(q, k, opts);
const bf16: ApplyQKOptions<Uint16Array> = { qHeads: 2, kHeads: 1, positions: [3], dtype: 'bf16' };
rope.applyQK(new Uint16Array(16), new Uint16Array(8), bf16);
const one: ApplyOptions = { heads: 2, positions: 0, inverse: true };
rope.apply(q, one);
rope.apply(new Uint16Array(8), { heads: 1, positions: 0, dtype: 'f16' });
rope.applyAsync(q, { heads: 2, positions: 0 }).then(function () {});
const config: HFConfig = { model_type: 'llama', head_dim: 8, rope_theta: 500000, rope_scaling: { rope_type: 'linear', factor: 2 }, vocab_size: 32000 };
const fromConfig: Rope = Rope.fromConfig(config);
const backend: string = backendInfo.backend;
export { fromConfig, backend };
`;
// [file, the mistake, a word its error must name]
const MISTAKES: [string, string, RegExp][] = [
  ['missing-dtype', `rope.apply(new Uint16Array(8), { heads: 1, positions: 0 });`, /dtype/],
  ['missing-positions', `rope.applyQK(q, k, { qHeads: 2, kHeads: 1 });`, /positions/],
  ['wrong-array', `rope.apply(new Float64Array(8), { heads: 1, positions: 0 });`, /Float64Array/],
  ['heads-for-applyQK', `rope.applyQK(q, k, { heads: 2, positions: 0 });`, /heads/],
  ['dtype-mismatch', `rope.apply(q, { heads: 2, positions: 0, dtype: 'bf16' });`, /'?"?bf16"?'?|dtype/],
];

let dir = '';
beforeAll(() => {
  // A consumer project with the package as npm installs it (package.json + dist).
  dir = mkdtempSync(join(tmpdir(), 'rope-types-'));
  const pkg = join(dir, 'node_modules', 'rope-simd');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'valid.ts'), VALID);
  for (const [file, line] of MISTAKES) writeFileSync(join(dir, `${file}.ts`), `${HEAD}${line}\n`);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Asynchronous: a synchronous child blocks the test worker long enough for vitest's RPC to time out.
function tsc(compiler: string, settings: string[], files: string | string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [compiler, '--noEmit', '--pretty', 'false', ...settings, ...[files].flat()],
      { cwd: dir, encoding: 'utf8', timeout: 120_000 },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: (stdout + stderr).trim() }),
    );
  });
}

describe.each(COMPILERS)('%s', (_name, compiler) => {
  it.each(Object.entries(SETTINGS))('the declarations and a typical use compile (%s, no skipLibCheck)', async (_s, settings) => {
    const r = await tsc(compiler, settings, 'valid.ts');
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('each common mistake: one error, naming the mistake', async () => {
    // One compiler run over every mistake file (each is a separate program file: errors are per file).
    const r = await tsc(compiler, SETTINGS['strict nodenext'], MISTAKES.map(([file]) => `${file}.ts`));
    expect(r.code).not.toBe(0);
    for (const [file, , names] of MISTAKES) {
      const errors = r.out.split('\n').filter((l) => l.startsWith(`${file}.ts(`));
      expect(errors, file).toHaveLength(1);
      expect(errors[0], file).toMatch(names);
      // Never the overload noise TypeScript printed before (Float16ArrayLike, BYTES_PER_ELEMENT).
      if (file !== 'wrong-array') expect(errors[0], file).not.toMatch(/Float16Array|BYTES_PER_ELEMENT/);
    }
  });
});
