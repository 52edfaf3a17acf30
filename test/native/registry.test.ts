// The ISA registry (native/kernels/isas.def) drives the builds, the dispatch and the types: a new
// ISA is its kernel file plus one registry line, and nothing else names the ISAs by hand.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NATIVE_ISAS } from '../../lib/generated/isas.js';
import { loadAddon } from '../helpers/addon.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (f: string) => readFileSync(join(root, f), 'utf8');
const read2 = (abs: string) => readFileSync(abs, 'utf8');

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
    // wasm_simd128.cc is the wasm module's kernel file (scripts/build/build-wasm.sh), not the addon's.
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
        if (e.isDirectory()) {
          if (e.name !== 'build') walk(f);
        } else if (/\.(cc|h|def|sh|ts|mjs|cjs|json)$/.test(e.name) && !e.name.endsWith('.test.ts')) {
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
    for (const f of ['binding.gyp', 'CMakeLists.txt'])
      if (registry.some((r) => read(f).includes(`kernels/${r.name}.cc`))) hand.push(`${f}: a kernel file`);
    expect(hand).toEqual([]);
  });

  it('drives the types: lib/generated/isas.ts is the registry, in order', () => {
    expect([...NATIVE_ISAS]).toEqual(registry.map((r) => r.name));
    // The generator's --check: the committed file is exactly what the registry gives.
    execFileSync(process.execPath, [join(root, 'scripts/gen/gen-isas.mjs'), '--check'], { stdio: 'pipe' });
    expect(read('lib/types.ts')).toMatch(/isa: NativeIsa \| 'wasm-simd128' \| 'js';/);
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

// native/sources.json: the one list of native sources, "kernels" standing for the registry's files.
const lists = JSON.parse(read('native/sources.json')) as Record<string, string[]>;
const kernelFiles = registry.map((r) => `native/kernels/${r.name}.cc`);
const expand = (list: string): string[] =>
  lists[list].flatMap((s) => (s === 'kernels' ? kernelFiles : Array.isArray(lists[s]) ? expand(s) : [s]));
const sourcesCjs = (list: string) =>
  execFileSync(process.execPath, [join(root, 'native/sources.cjs'), list], { encoding: 'utf8' }).trim().split(/\s+/);

describe('native source list', () => {
  it('names files that exist, each basename once (the scripts name objects by it)', () => {
    for (const list of Object.keys(lists).filter((k) => k !== 'about')) {
      const files = expand(list);
      for (const f of files) expect(() => read(f), f).not.toThrow();
      expect(new Set(files.map((f) => basename(f))).size, list).toBe(files.length);
    }
    expect(expand('addon')).toEqual(expect.arrayContaining(kernelFiles));
    expect(expand('testing')).toEqual(expect.arrayContaining(kernelFiles));
  });

  it('the testing addon is the addon\'s sources and flags but its module file, and never in the package', () => {
    const gyp = (f: string) => JSON.parse(read(f).replace(/^\s*#.*$/gm, '')).targets[0];
    const main = gyp('binding.gyp'), testing = gyp('test/native/addon/binding.gyp');
    const rest = (t: Record<string, unknown>) => ({ ...t, target_name: 0, sources: 0, include_dirs: 0 });
    expect(rest(testing)).toEqual(rest(main));
    expect(expand('addon').filter((f) => !expand('testing').includes(f))).toEqual(['native/binding/addon.cc']);
    expect(expand('testing').filter((f) => !expand('addon').includes(f))).toEqual(['native/binding/testing.cc']);
    expect(testing.sources).toEqual(['<!@(node ../../../native/sources.cjs testing --from test/native/addon)']);
    expect(execFileSync(process.execPath, [join(root, 'native/sources.cjs'), 'testing', '--from', 'test/native/addon'], { encoding: 'utf8' }).trim().split(/\s+/))
      .toEqual(expand('testing').map((f) => `../../../${f}`));
  });

  it('every addon source .cc under native/ is in the addon list (nothing built by a hidden list)', () => {
    const all: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
        if (e.isDirectory()) walk(`${dir}/${e.name}`);
        else if (e.name.endsWith('.cc')) all.push(`${dir}/${e.name}`);
      }
    };
    walk('native');
    const built = new Set(Object.keys(lists).filter((k) => k !== 'about').flatMap(expand));
    expect(all.filter((f) => !built.has(f))).toEqual([]);
  });

  it('drives node-gyp: binding.gyp expands to the list, and gyp generates exactly those objects', () => {
    expect(sourcesCjs('addon')).toEqual(expand('addon'));
    expect(read('binding.gyp')).toMatch(/"sources": \["<!@\(node native\/sources\.cjs addon\)"\]/);
    // gyp itself, on a copy of binding.gyp and the lists alone: the Makefile it writes builds them.
    const t = mkdtempSync(join(tmpdir(), 'rope-gyp-'));
    try {
      mkdirSync(join(t, 'native/kernels'), { recursive: true });
      for (const f of ['binding.gyp', 'native/sources.json', 'native/sources.cjs', 'native/kernels/isas.def']) copyFileSync(join(root, f), join(t, f));
      writeFileSync(join(t, 'type.gypi'), "{'target_defaults': {'type': 'loadable_module'}}"); // (node-gyp's addon.gypi says this)
      const gyp = join(dirname(createRequire(import.meta.url).resolve('node-gyp/package.json')), 'gyp/gyp_main.py');
      execFileSync('python3', [gyp, 'binding.gyp', '-f', 'make', '--depth=.', '-I', 'type.gypi', '--generator-output=out', '-DOS=linux'], {
        cwd: t, stdio: 'pipe', env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
      });
      const objs = [...read2(join(t, 'out/rope_simd.target.mk')).matchAll(/\/(native\/[\w/]+)\.o\b/g)].map((m) => `${m[1]}.cc`);
      expect(objs).toEqual(expand('addon'));
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it('drives CMake: native/sources.cmake gives CMakeLists.txt the same list', () => {
    expect(read('CMakeLists.txt')).toContain('include(native/sources.cmake)');
    expect(read('CMakeLists.txt')).toMatch(/add_library\(\$\{PROJECT_NAME\} SHARED \$\{ROPE_SOURCES\}/);
    const r = spawnSync('cmake', ['-P', join(root, 'native/sources.cmake')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr.trim()).toBe(expand('addon').join(';')); // (message() writes to stderr)
  });

  it('no header on the include path (native/) takes a C or C++ standard header\'s name', () => {
    // libc++'s <climits> includes <limits.h>: a native/limits.h would be found first and break it.
    const std = new Set(['assert', 'complex', 'ctype', 'errno', 'fenv', 'float', 'inttypes', 'iso646', 'limits', 'locale', 'math',
      'setjmp', 'signal', 'stdalign', 'stdarg', 'stdatomic', 'stdbool', 'stddef', 'stdint', 'stdio', 'stdlib', 'string', 'tgmath',
      'threads', 'time', 'uchar', 'wchar', 'wctype', 'pthread', 'sched', 'unistd', 'memory', 'new', 'thread', 'atomic', 'mutex']);
    const clash = readdirSync(join(root, 'native')).filter((f) => f.endsWith('.h') && std.has(f.slice(0, -2)));
    expect(clash).toEqual([]);
  });

  it('drives the scripts: kernel tests, fuzzers, wasm, ASan and cross builds read the lists', () => {
    expect(sourcesCjs('kernels')).toEqual(kernelFiles);
    for (const list of ['kernelTests', 'fuzz', 'wasm']) expect(sourcesCjs(list)).toEqual(expand(list));
    expect(read('scripts/test/test-kernels.sh')).toContain('node native/sources.cjs kernelTests');
    expect(read('scripts/test/fuzz-kernels.sh')).toContain('node native/sources.cjs fuzz');
    expect(read('scripts/build/build-wasm.sh')).toContain('node native/sources.cjs wasm');
    expect(read('scripts/test/test-asan.sh')).toContain('node native/sources.cjs addon');
    expect(read('scripts/prebuild/prebuild-cross.mjs')).toContain("'sources.cjs'), 'addon'");
  });

  it('the lists count in the prebuilds\' source hash (they decide what is built)', () => {
    const { sourceFiles } = createRequire(import.meta.url)('../../scripts/install.cjs') as { sourceFiles: () => string[] };
    const hashed = sourceFiles();
    for (const f of ['native/sources.json', 'native/sources.cjs', 'native/sources.cmake', 'native/kernels/isas.def', 'binding.gyp', 'CMakeLists.txt'])
      expect(hashed, f).toContain(f);
  });
});
