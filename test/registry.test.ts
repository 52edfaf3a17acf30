// The ISA registry (native/kernels/isas.def) drives the builds, the dispatch and the types: a new
// ISA is its kernel file plus one registry line, and nothing else names the ISAs by hand.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NATIVE_ISAS } from '../lib/generated/isas.js';
import { loadAddon } from './helpers/addon.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (f: string) => readFileSync(join(root, f), 'utf8');

// Read here on its own terms (not through native/sources.cjs, which the builds use).
const registry = read('native/kernels/isas.def')
  .split('\n')
  .filter((l) => l.startsWith('ROPE_ISA('))
  .map((l) => {
    const m = /^ROPE_ISA\((\w+), (\w+), (\w+)\)$/.exec(l.trim());
    if (!m) throw new Error(`isas.def: unparsable line ${l}`);
    return { name: m[1], table: m[2], cpu: m[3] };
  });

describe('ISA registry', () => {
  it('lists the ISAs, scalar last (the one every CPU runs)', () => {
    expect(registry.length).toBeGreaterThan(1);
    expect(registry.at(-1)!.name).toBe('scalar');
    expect(new Set(registry.map((r) => r.name)).size).toBe(registry.length);
  });

  it('each line has its kernel file, defining its table; no other kernel file exists', () => {
    for (const r of registry) {
      const src = read(`native/kernels/${r.name}.cc`);
      expect(src, r.name).toMatch(new RegExp(`const KernelTable& ${r.table}\\(\\) \\{`));
    }
    const files = readdirSync(join(root, 'native/kernels')).filter((f) => f.endsWith('.cc'));
    // wasm_simd128.cc is the wasm module's kernel file (scripts/build-wasm.sh), not the addon's.
    expect(files.filter((f) => f !== 'wasm_simd128.cc').sort()).toEqual(registry.map((r) => `${r.name}.cc`).sort());
  });

  it('each CPU check exists in dispatch.cc', () => {
    const dispatch = read('native/dispatch.cc');
    for (const r of registry) expect(dispatch, r.cpu).toMatch(new RegExp(`const char\\* ${r.cpu}\\(\\) \\{`));
  });

  it('no source outside the kernel files and the registry names a table or lists the ISAs', () => {
    const hand: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
        const f = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(f);
        else if (/\.(cc|h|def|sh|ts|mjs|cjs|json)$/.test(e.name)) {
          if (registry.some((r) => f === `native/kernels/${r.name}.cc`) || f.endsWith('isas.def')) continue;
          const text = read(f);
          for (const r of registry.filter((x) => x.name !== 'scalar'))
            if (text.includes(`${r.table}(`)) hand.push(`${f}: ${r.table}`);
          // A hand-written list of the ISA names (in any order), as the registry replaced.
          if (/avx512.{0,12}avx2.{0,12}neon|scalar.{0,12}avx2.{0,12}avx512/s.test(text) && !f.startsWith('lib/generated/'))
            hand.push(`${f}: a list of ISA names`);
        }
      }
    };
    for (const d of ['native', 'lib', 'scripts', 'test/native']) walk(d);
    expect(hand).toEqual([]);
  });

  it('drives the types: lib/generated/isas.ts is the registry, in order', () => {
    expect([...NATIVE_ISAS]).toEqual(registry.map((r) => r.name));
    // The generator's --check: the committed file is exactly what the registry gives.
    execFileSync(process.execPath, [join(root, 'scripts/gen-isas.mjs'), '--check'], { stdio: 'pipe' });
    expect(read('lib/types.ts')).toMatch(/isa: NativeIsa \| 'wasm-simd128' \| 'js';/);
  });

  it('drives the test scripts: they build one kernel file per registry line', () => {
    const out = execFileSync(process.execPath, [join(root, 'native/sources.cjs'), 'kernels'], { encoding: 'utf8' });
    expect(out.trim().split(/\s+/)).toEqual(registry.map((r) => `native/kernels/${r.name}.cc`));
    for (const s of ['scripts/test-kernels.sh', 'scripts/fuzz-kernels.sh']) expect(read(s)).toContain('node native/sources.cjs kernels');
  });

  it('drives the dispatch: the addon offers the registry ISAs in its order and refuses others by listing them', () => {
    const addon = loadAddon<{ supportedIsas(): string[]; selectIsa(n: string): void; isa(): string }>();
    const supported = addon.supportedIsas();
    const names = registry.map((r) => r.name);
    expect(supported.at(-1)).toBe('scalar');
    expect(supported).toEqual(names.filter((n) => supported.includes(n)));
    const before = addon.isa();
    expect(() => addon.selectIsa('sse9')).toThrow(`ISA 'sse9' is not one of ${names.join(', ')}`);
    expect(addon.isa()).toBe(before);
  });
});
